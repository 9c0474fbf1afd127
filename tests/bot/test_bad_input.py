"""Every bad body answered (400/401/415, one log line, no traceback), fuzzed bodies included."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from teams_app.adapters.bot.cards import VERB_PROFILE
from tests.bot.conftest import BotHarness, card_action, make_user, start_harness, teams_activity
from tests.bot.test_auth import bearer


def no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]


def probes(url: str) -> dict[str, Any]:
    """The bodies an independent probe sent; each answered 500 with a traceback before."""
    user = make_user(1)
    base = teams_activity(user, url, text="help")
    invoke = card_action(user, url, VERB_PROFILE, {})
    return {
        "from_string": {**base, "from": "someone"},
        "recipient_string": {**base, "recipient": "bot"},
        "conversation_string": {**base, "conversation": "a:conversation"},
        "bad_timestamp": {**base, "timestamp": "yesterday at noon"},
        "entities_string": {**base, "entities": "mention"},
        "invoke_without_value": {k: v for k, v in invoke.items() if k != "value"},
        "action_as_list": {**invoke, "value": {"action": [{"verb": VERB_PROFILE}]}},
        "data_as_string": {**invoke, "value": {"action": {"type": "Action.Execute", "verb": VERB_PROFILE,
                                                          "data": "x"}}},
        "not_an_object": [base],
        "no_type": {k: v for k, v in base.items() if k != "type"},
        "tenant_disagreement": {**base, "channelData": {"tenant": {"id": "another-tenant"}}},
        "service_url_file": {**base, "serviceUrl": "file:///etc/passwd"},
        "service_url_metadata": {**base, "serviceUrl": "http://169.254.169.254/"},
    }


NESTED = b"[" * 100_000 + b"]" * 100_000


async def test_every_probe_body_gets_400_and_no_traceback(harness: BotHarness,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    for name, body in probes(harness.connector.url).items():
        status, answer = await harness.post(body)
        assert status == 400, (name, status, answer)
        assert answer["error"], name
    response = await harness.client.post("/api/messages", data=NESTED, headers={"Content-Type": "application/json"})
    assert response.status == 400 and "deeply" in (await response.json())["error"]
    response = await harness.client.post("/api/messages", data=b"\xff\xfe{}",
                                         headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert harness.connector.sent == []
    no_traceback(caplog)
    refusals = [r for r in caplog.records if "refused an activity" in r.getMessage()]
    assert len(refusals) == len(probes(harness.connector.url)) + 2  # one line each


@pytest.mark.parametrize("content_type", ["text/plain; application/json", "application/jsonx", "text/json",
                                          "application/json; charset=latin-1"])
async def test_content_type_is_parsed_not_substring_matched(harness: BotHarness, content_type: str) -> None:
    body = json.dumps(teams_activity(make_user(1), harness.connector.url, text="help"))
    response = await harness.client.post("/api/messages", data=body, headers={"Content-Type": content_type})
    assert response.status == 415


async def test_content_type_with_parameters_is_accepted(harness: BotHarness) -> None:
    body = json.dumps(teams_activity(make_user(1), harness.connector.url, text="help"))
    response = await harness.client.post("/api/messages", data=body,
                                         headers={"Content-Type": "Application/JSON; charset=UTF-8"})
    assert response.status == 200


async def test_probe_bodies_without_a_token_are_401_before_parsing(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                                   ) -> None:
    from tests.bot.test_auth import APP_ID, TENANT, LocalCredentialsFactory

    h = await start_harness(tmp_path, bot={
        "app_id": APP_ID, "app_password": "unused", "app_tenant_id": TENANT, "emulator_openid_metadata_url": "",
        "openid_metadata_url": "http://127.0.0.1:9/never-fetched", "service_url_hosts": ["127.0.0.1"],
    }, credentials_factory=LocalCredentialsFactory())
    caplog.set_level(logging.INFO)
    try:
        for name, body in probes(h.connector.url).items():
            assert (await h.post(body, bearer("not.a.jwt")))[0] == 401, name
            assert (await h.post(body))[0] == 401, name
        response = await h.client.post("/api/messages", data=NESTED, headers={"Content-Type": "application/json"})
        assert response.status == 401
        no_traceback(caplog)
    finally:
        await h.client.close()
        await h.connector.close()


async def test_enrolling_false_as_a_string_does_not_enroll(harness: BotHarness) -> None:
    program = await harness.app.service.create_program("Pairs", "peer_pairs", "weekly")
    user = make_user(5)
    harness.enroll_roster(user)
    data = {"enrolling": "false", "program_id": program.id, "time_zone": "Europe/Berlin",
            "working_hours": "09:00-17:00", "languages": "en"}
    status, _ = await harness.post(card_action(user, harness.connector.url, VERB_PROFILE, data))
    assert status == 200
    assert (await harness.app.service.status(program.id)).enrolled == 0
    status, answer = await harness.post(card_action(user, harness.connector.url, VERB_PROFILE,
                                                    {**data, "enrolling": "perhaps"}))
    assert status == 200 and "out of date" in json.dumps(answer)
    assert (await harness.app.service.status(program.id)).enrolled == 0


# -- fuzzing -------------------------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8)
FIELDS = ["type", "id", "timestamp", "localTimestamp", "serviceUrl", "channelId", "from", "recipient", "conversation",
          "text", "locale", "name", "value", "channelData", "entities", "attachments", "membersAdded",
          "membersRemoved", "replyToId", "action", "textFormat"]


def activity_bodies(service_url: str) -> st.SearchStrategy[Any]:
    user = make_user(42)
    valid = teams_activity(user, service_url, text="help")
    types = st.sampled_from(["message", "invoke", "conversationUpdate", "installationUpdate", "event",
                             "messageReaction", "typing", "endOfConversation", "MESSAGE", ""])
    names = st.sampled_from(["adaptiveCard/action", "task/fetch", "signin/verifyState", "composeExtension/query"])
    verbs = st.sampled_from(["profile.submit", "checkin.submit", "consent.accept", "leave.erase", "match.met",
                             "assessment.submit", "nope"])
    card_value = st.fixed_dictionaries({"action": st.one_of(json_values, st.fixed_dictionaries(
        {"type": st.just("Action.Execute"), "verb": verbs, "data": json_values}))})
    mutated = st.fixed_dictionaries({}, optional={
        field: json_values for field in FIELDS}).map(lambda changes: {**valid, **changes})
    shaped = st.builds(lambda t, n, v, text: {**valid, "type": t, "name": n, "value": v, "text": text},
                       types, names, st.one_of(card_value, json_values), st.one_of(st.text(max_size=30), json_values))
    return st.one_of(mutated, shaped, st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6), json_values)


def test_fuzzed_activity_bodies_never_get_5xx_or_a_traceback(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    loop = asyncio.new_event_loop()
    h = loop.run_until_complete(start_harness(tmp_path, bot={"dev_mode": True, "per_conversation_rps": 500,
                                                             "per_tenant_rps": 5000}))
    loop.run_until_complete(h.app.service.create_program("Pairs", "peer_pairs", "weekly"))
    statuses: list[int] = []

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(activity_bodies(h.connector.url))
    def post_one(body: Any) -> None:
        status, _ = loop.run_until_complete(h.post(body))
        statuses.append(status)
        assert status < 500, (status, body)

    try:
        post_one()
        assert 200 in statuses and 400 in statuses  # the generator reaches the bot and the checks
        no_traceback(caplog)
    finally:
        loop.run_until_complete(h.client.close())
        loop.run_until_complete(h.connector.close())
        loop.close()


async def test_an_unreachable_loopback_service_url_is_one_log_line_not_a_traceback(
        harness: BotHarness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    status, _ = await harness.post(teams_activity(make_user(3), "http://127.0.0.1:1/", text="help"))
    assert status == 200
    no_traceback(caplog)
    assert any("could not answer a message activity" in r.getMessage() for r in caplog.records)
