"""Races and checks: concurrent submissions by one person, the tenant allow-list on every channel, serviceUrls."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from teams_app.adapters.bot.cards import VERB_PROFILE
from teams_app.adapters.bot.hosting import BotConfigurationError, ServiceUrlPolicy, check_listen_host
from teams_app.adapters.db.bot_tables import bot_conversations
from teams_app.config import load_settings
from teams_app.simulation.connector import OpenIdServer
from tests.bot.conftest import BotHarness, card_action, make_user, start_harness, teams_activity
from tests.bot.test_auth import APP_ID, TENANT, LocalCredentialsFactory, bearer
from tests.bot.test_bad_input import no_traceback
from tests.bot.test_channels import email_activity

PROFILE = {"time_zone": "Europe/Berlin", "working_hours": "09:00-17:00", "languages": "en"}


async def test_concurrent_profile_submissions_by_one_person_enroll_once(harness: BotHarness,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    program = await harness.app.service.create_program("Pairs", "peer_pairs", "weekly")
    user = make_user(7)
    harness.enroll_roster(user)
    caplog.set_level(logging.INFO)
    answers = await asyncio.gather(*(harness.post(card_action(
        user, harness.connector.url, VERB_PROFILE, {**PROFILE, "program_id": program.id})) for _ in range(20)))
    assert [status for status, _ in answers] == [200] * 20
    titles = [str(answer) for _, answer in answers]
    assert sum("You're in!" in t for t in titles) == 1 and sum("Already done" in t for t in titles) == 19
    assert (await harness.app.service.status(program.id)).enrolled == 1
    no_traceback(caplog)


async def test_200_concurrent_join_mails_from_100_people_register_each_once(
        harness: BotHarness, caplog: pytest.LogCaptureFixture) -> None:
    program = await harness.app.service.create_program("Pairs", "peer_pairs", "weekly")
    caplog.set_level(logging.INFO)
    mails = [email_activity(harness.connector.url, f"racer{n}@example.com", "join", f"mail-{n}-{copy}")
             for n in range(100) for copy in range(2)]
    statuses = await asyncio.gather(*(harness.post(mail) for mail in mails))
    assert [s for s, _ in statuses] == [200] * 200
    # 'join' by email registers the person (their consent link names them) and enrolls no one before consent.
    assert (await harness.app.service.status(program.id)).enrolled == 0
    for n in range(100):
        assert await harness.app.service.find_participant(email=f"racer{n}@example.com") is not None
        assert len(harness.connector.messages_to(f"email-thread-racer{n}@example.com")) == 2
    no_traceback(caplog)


# -- the tenant allow-list --------------------------------------------------------------------------------
@pytest.fixture
def openid() -> AsyncIterator[OpenIdServer]:
    server = OpenIdServer(endorsements=("msteams", "email", "webchat")).start()
    try:
        yield server  # type: ignore[misc]
    finally:
        server.stop()


@pytest.fixture
async def gated(tmp_path: Path, openid: OpenIdServer) -> AsyncIterator[BotHarness]:
    h = await start_harness(tmp_path, bot={
        "app_id": APP_ID, "app_password": "unused", "app_tenant_id": TENANT, "allowed_tenants": [TENANT.upper()],
        "allowed_email_domains": ["example.com"], "openid_metadata_url": openid.metadata_url,
        "emulator_openid_metadata_url": "", "service_url_hosts": ["127.0.0.1"],
    }, credentials_factory=LocalCredentialsFactory())
    try:
        yield h
    finally:
        await h.client.close()
        await h.connector.close()


async def test_the_tenant_allow_list_applies_to_every_channel(gated: BotHarness, openid: OpenIdServer) -> None:
    url = gated.connector.url
    auth = bearer(openid.token(app_id=APP_ID, service_url=url))
    user = make_user(9)
    ok = teams_activity(user, url, text="help", tenant=f"  {TENANT.upper()} ")  # normalised before comparing
    assert (await gated.post(ok, auth))[0] == 200

    other = "99999999-0000-0000-0000-000000000000"
    cases = {
        "webchat_without_tenant": {**teams_activity(user, url, text="help", channelId="webchat"),
                                   "conversation": {"id": "webchat-1"}, "channelData": {}},
        "webchat_other_tenant": teams_activity(user, url, text="help", channelId="webchat", tenant=other),
        "email_other_domain": email_activity(url, "mallory@evil.example", "join", "mail-evil"),
        "email_no_domain": email_activity(url, "mallory", "join", "mail-nodomain"),
        "msteams_other_tenant": teams_activity(user, url, text="help", tenant=other),
    }
    for name, activity in cases.items():
        status, _ = await gated.post(activity, auth)
        assert status == 403, name
    mixed = teams_activity(user, url, text="help")
    mixed["channelData"] = {"tenant": {"id": other}}
    assert (await gated.post(mixed, auth))[0] in (400, 403)
    # Channel ids are not normalised into a pass: MSTEAMS is not what the key is endorsed for.
    assert (await gated.post(teams_activity(user, url, text="help", channelId="MSTEAMS", tenant=other), auth))[0] \
        in (401, 403)
    assert (await gated.post(email_activity(url, "erin@Example.com", "help", "mail-ok"), auth))[0] == 200
    assert len(gated.connector.sent) == 2  # the two admitted activities' replies, nothing else


async def test_dev_mode_refuses_and_does_not_store_non_loopback_service_urls(harness: BotHarness) -> None:
    user = make_user(11)
    for url in ("http://169.254.169.254/", "file:///etc/passwd", "https://smba.trafficmanager.net/emea/",
                "http://10.0.0.1:80/", "http://user:pw@127.0.0.1/"):
        status, answer = await harness.post(teams_activity(user, url, text="help"))
        assert status == 400, (url, answer)
    async with harness.app.engine.connect() as conn:
        stored = (await conn.execute(select(bot_conversations.c.service_url))).scalars().all()
    assert stored == []


def test_service_url_policy_outside_dev_mode_allows_only_listed_bot_framework_hosts() -> None:
    policy = ServiceUrlPolicy.from_settings(load_settings(bot={"app_id": APP_ID, "app_password": "s",
                                                               "app_tenant_id": TENANT}).bot)
    for allowed in ("https://smba.trafficmanager.net/emea/", "https://email.botframework.com/",
                    "https://smba.infra.gov.teams.microsoft.us/"):
        assert policy.problem(allowed) is None, allowed
    for refused in ("http://smba.trafficmanager.net/emea/", "https://evil.example/", "https://127.0.0.1:1/",
                    "https://botframework.com.evil.example/", "file:///etc/passwd", "https://169.254.169.254/"):
        assert policy.problem(refused) is not None, refused
    dev = ServiceUrlPolicy(dev_mode=True, hosts=[])
    assert dev.problem("http://127.0.0.1:3978/") is None and dev.problem("http://[::1]:1/") is None
    assert dev.problem("https://smba.trafficmanager.net/emea/") is not None


def test_dev_mode_listens_only_on_loopback() -> None:
    dev = load_settings(bot={"dev_mode": True}).bot
    check_listen_host(dev, "127.0.0.1")
    check_listen_host(dev, "::1")
    check_listen_host(dev, "localhost")
    for host in ("0.0.0.0", "::", "192.168.1.10", "bot.example.com"):
        with pytest.raises(BotConfigurationError, match="loopback"):
            check_listen_host(dev, host)
    check_listen_host(load_settings(bot={"app_id": APP_ID, "app_password": "s", "app_tenant_id": TENANT}).bot,
                      "0.0.0.0")


async def test_token_time_checks_use_the_configured_leeway(gated: BotHarness, openid: OpenIdServer) -> None:
    url = gated.connector.url
    user = make_user(12)
    slightly_late = openid.token(app_id=APP_ID, service_url=url, lifetime_s=-60)  # within the 5-minute leeway
    assert (await gated.post(teams_activity(user, url, text="help"), bearer(slightly_late)))[0] == 200
    too_late = openid.token(app_id=APP_ID, service_url=url, lifetime_s=-400)
    assert (await gated.post(teams_activity(user, url, text="help"), bearer(too_late)))[0] == 401
    webchat_key = openid.token(app_id=APP_ID, service_url=url)
    status, _ = await gated.post(teams_activity(user, url, text="help", channelId="skype"), bearer(webchat_key))
    assert status == 401  # the signing key is not endorsed for that channel


@pytest.mark.postgres
async def test_two_bot_processes_racing_on_one_person_enroll_once(tmp_path: Path, postgres_url: str,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    """Two web apps on one database (two processes behind a load balancer): the per-person lock of one process
    does not cover the other, so the unique constraint decides and the loser's turn is handled once more."""
    options = {"dev_mode": True, "per_conversation_rps": 50, "per_tenant_rps": 500}
    first = await start_harness(tmp_path / "a", bot=options, db_url=postgres_url)
    second = await start_harness(tmp_path / "b", bot=options, db_url=postgres_url, connector=first.connector)
    caplog.set_level(logging.INFO)
    try:
        program = await first.app.service.create_program("Pairs", "peer_pairs", "weekly")
        for n in range(20, 30):
            user = make_user(n)
            first.enroll_roster(user)
            submission = card_action(user, first.connector.url, VERB_PROFILE, {**PROFILE, "program_id": program.id})
            answers = await asyncio.gather(first.post(submission), second.post(submission))
            assert [status for status, _ in answers] == [200, 200]
            titles = [str(answer) for _, answer in answers]
            assert sum("You're in!" in t for t in titles) == 1, titles
        assert (await first.app.service.status(program.id)).enrolled == 10
        no_traceback(caplog)
    finally:
        for h in (first, second):
            await h.client.close()
        await first.connector.close()


async def test_emulator_tokens_validate_against_their_own_configurable_metadata(tmp_path: Path,
                                                                                openid: OpenIdServer) -> None:
    h = await start_harness(tmp_path, bot={
        "app_id": APP_ID, "app_password": "unused", "app_tenant_id": TENANT, "allowed_tenants": [TENANT],
        "openid_metadata_url": "http://127.0.0.1:9/not-used-for-emulator-tokens",
        "emulator_openid_metadata_url": openid.metadata_url, "service_url_hosts": ["127.0.0.1"],
    }, credentials_factory=LocalCredentialsFactory())
    try:
        url = h.connector.url
        user = make_user(13)
        issuer = "https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/"
        ours = openid.token(app_id=APP_ID, service_url="", issuer=issuer, audience="https://api.botframework.com",
                            appid=APP_ID, ver="1.0")
        assert (await h.post(teams_activity(user, url, text="help"), bearer(ours)))[0] == 200
        theirs = openid.token(app_id=APP_ID, service_url="", issuer=issuer, audience="https://api.botframework.com",
                              appid="another-app", ver="1.0")
        assert (await h.post(teams_activity(user, url, text="help"), bearer(theirs)))[0] == 401
        v2 = openid.token(app_id=APP_ID, service_url="", issuer=f"https://login.microsoftonline.com/{TENANT}/v2.0",
                          audience=APP_ID, azp=APP_ID, ver="2.0")
        assert (await h.post(teams_activity(user, url, text="help"), bearer(v2)))[0] == 200
    finally:
        await h.client.close()
        await h.connector.close()
