"""One program from Teams chat to the LMS's learning record store, through every real adapter.

Install -> join with the profile card -> round -> Graph booking on the local Graph server -> intro cards
-> check-ins -> peer reviews on rubric cards -> feedback released; then the relay delivers the outbox and
the ralph LRS holds exactly the expected statements, each passing ralph's strict statement model.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from ralph.models.xapi.base.statements import BaseXapiStatement

from lrs_bridge.client import LrsClient
from lrs_bridge.records import ProgramRef
from lrs_bridge.relay import Relay
from teams_app.bootstrap import bootstrap, statement_builder
from teams_app.bootstrap.bot import bot_installer
from teams_app.config import Settings
from teams_app.domain.model import MatchingPolicy
from teams_app.entrypoints.web import create_web_app
from teams_app.reporting import mentions_activity
from teams_app.simulation.connector import LocalConnector
from teams_app.simulation.graph_server import GraphServer
from tests.bot.conftest import BotHarness, FakeMailer, RunningClock, card_action, make_user, teams_activity
from tests.bot.test_conversation import card_of, join, verbs
from tests.fixtures.ralph_lrs import RalphLrs


@pytest.fixture
async def graph() -> AsyncIterator[GraphServer]:
    server = await GraphServer().start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def product(tmp_path: Path, graph: GraphServer, ralph_lrs: RalphLrs) -> AsyncIterator[BotHarness]:
    ralph_lrs.start()  # another test may have stopped it to simulate an outage
    connector = await LocalConnector().start()
    settings = Settings(
        db={"url": f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}"}, scheduler={"enabled": False},
        bot={"dev_mode": True, "admins": ["aad-0001"], "per_conversation_rps": 50, "per_tenant_rps": 500},
        graph={"tenant_id": "contoso", "client_id": "app-id", "client_secret": graph.client_secret,
               "base_url": graph.base_url, "token_url": graph.token_url(), "organizer": "first"},
        lrs={"endpoint": ralph_lrs.endpoint, "username": ralph_lrs.username, "password": ralph_lrs.password,
             "agent_objects": False},  # ralph refuses Agent/Group objects
    )
    clock = RunningClock(datetime.now(UTC) + timedelta(days=1))
    app = bootstrap(settings, clock=clock)
    mailer = FakeMailer()
    options = {"base_backoff_s": 0.05, "max_backoff_s": 0.5, "poll_interval_s": 0.2}
    web_app = create_web_app(app, installers=(bot_installer(mailer=mailer, sender_options=options),),
                             run_background=False)
    client = TestClient(TestServer(web_app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield BotHarness(app, client, connector, mailer, clock)
    finally:
        await client.close()
        await connector.close()


def cards(h: BotHarness, user: Any, verb: str) -> list[dict[str, Any]]:
    """The Adaptive Cards sent to ``user`` that offer ``verb`` (plain text notes are skipped)."""
    found = [card_of(m) for m in h.replies(user) if m.get("attachments")]
    return [c for c in found if verb in verbs(c)]


@pytest.mark.slow
async def test_a_learning_circle_from_install_to_the_lrs(product: BotHarness, graph: GraphServer,
                                                         ralph_lrs: RalphLrs) -> None:
    h = product
    name = f"Circle {uuid.uuid4().hex[:6]}"
    program = await h.app.service.create_program(name, "circle", "weekly", min_reviews=3,
                                                 policy=MatchingPolicy(group_min=3, group_max=5))
    users = [make_user(n) for n in (21, 22, 23, 24)]

    # Install: one welcome each; join through the consent and profile cards.
    for user in users:
        await h.post(teams_activity(user, h.connector.url, type_="installationUpdate", action="add"))
        assert verbs(card_of(h.replies(user)[-1])) == ["consent.accept"]
        await join(h, user)
    assert (await h.app.service.status(program.id)).enrolled == 4

    # A round forms one circle; the meeting is booked on the local Graph server and the intro cards go out.
    result = await h.app.service.run_round(program.id)
    (circle,) = result.matches
    assert await h.app.service.book_open_matches(h.app.calendar) == 1
    (event,) = graph.all_events()
    assert event["isOnlineMeeting"] is True and event["onlineMeetingProvider"] == "teamsForBusiness"
    assert len(event["attendees"]) == 3 and event["transactionId"]
    await h.sender.drain(timeout_s=30)
    for user in users:
        assert cards(h, user, "match.met"), "every member gets the intro card"

    # Everyone met: "we met" opens the check-in card, which is submitted once.
    for n, user in enumerate(users):
        _, body = await h.post(card_action(user, h.connector.url, "match.met", {"match_id": circle.id}))
        assert verbs(body["value"]) == ["checkin.submit"]
        await h.post(card_action(user, h.connector.url, "checkin.submit", {
            "match_id": circle.id, "met": "yes", "usefulness": str(3 + n % 3), "learned": "listen first",
            "next_step": "try it at work"}))
    assert (await h.app.service.status(program.id)).checked_in == 4

    # Peer assessment: every member reviews the other three on rubric cards.
    opened = await h.app.assessment.open_assessment(program.id, deadline=h.clock.now() + timedelta(days=7),
                                                    round_id=circle.round_id)
    await h.sender.drain(timeout_s=30)
    submitted = 0
    for user in users:
        for card in cards(h, user, "assessment.submit"):
            data = next(a["data"] for a in card["actions"] if a["verb"] == "assessment.submit")
            ratings = {e["id"]: e["choices"][-1]["value"] for e in card["body"]
                       if e.get("id", "").startswith("ratings.")}
            _, body = await h.post(card_action(user, h.connector.url, "assessment.submit",
                                               {**data, **ratings, "comment": "clear and kind"}))
            # Saved: the replacement card offers an edit (until the deadline) and a withdrawal.
            assert verbs(body["value"]) == ["assessment.submit", "assessment.withdraw"]
            submitted += 1
    assert submitted == 12
    h.clock.advance(timedelta(days=8))  # results are released after the deadline
    summary = await h.app.assessment.release_results(opened.assessment.id)
    assert len(summary.released) == 4 and not summary.withheld
    await h.sender.drain(timeout_s=30)

    # Deliver the outbox to ralph and read the program back.
    settings = h.app.settings
    async with LrsClient(ralph_lrs.endpoint, username=ralph_lrs.username, password=ralph_lrs.password) as lrs:
        report = await Relay(h.app.engine, lrs, batch_size=100).run_once()
        assert report.dead == 0
        program_iri = statement_builder(settings).program_activity(ProgramRef(program.id, name), "en").id
        ours = [s async for s in lrs.get_statements() if mentions_activity(s, program_iri)]
    by_verb = Counter(s["verb"]["id"].rsplit("/", 1)[-1] for s in ours)
    criteria = len(opened.assessment.rubric.criteria)
    assert by_verb == Counter({
        "registered": 4, "matched": 4, "schedule": 4,
        "reflected": 4, "attended": 4, "talked-with": 4,
        "reviewed": 12,  # that they reviewed: no score of the reviewee in the reviewer's result
        "scored": 4,  # each person's released result, as their own statement
        "earned": 4,  # the first peer review earns each reviewer a recognition
    })
    for statement in ours:
        if statement["verb"]["id"].endswith("/reviewed"):
            assert "result" not in statement
    assert criteria >= 1
    for statement in ours:
        BaseXapiStatement.model_validate(statement)
    assert len({s["id"] for s in ours}) == len(ours)  # exactly once each
