"""Learning records of a circle kept for a term: every session is its own statement context (program, cohort,
round), and the facilitator's role rotates in the profile's role extension (no new verbs)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from lrs_bridge.outbox import outbox_table
from lrs_bridge.statements import StatementBuilder
from lrs_bridge.vocabulary import Extensions
from teams_app.adapters.clock import FixedClock
from teams_app.adapters.db.uow import SqlUnitOfWorkFactory
from teams_app.adapters.xapi import XapiRecorder
from teams_app.domain.model import Profile
from teams_app.service.messagebus import MessageBus
from teams_app.service.use_cases import CoachingService, ParticipantInput

BASE = "https://peercoach.example/xapi"


async def matched_statements(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(outbox_table.c.payload).order_by(outbox_table.c.id))
        statements = [json.loads(r.payload) for r in rows]
    return [s for s in statements if s["verb"]["id"].endswith("/matched")]


async def test_each_session_of_a_stable_circle_has_its_own_round_context_and_facilitator(
        engine: AsyncEngine, clock: FixedClock) -> None:
    bus = MessageBus()
    XapiRecorder(StatementBuilder(activity_base_iri=BASE, agent_objects=False, clock=clock.now),
                 "system@peercoach.example", completion_sessions=2).register(bus)
    service = CoachingService(SqlUnitOfWorkFactory(engine), bus, clock)
    await service.create_program("Circles", "circle", "weekly", cohort="2026-Q4", sessions_per_term=3)
    await service.import_participants("Circles", [
        ParticipantInput(f"m{i}@example.com", f"Member {i}", Profile.build(time_zone="Europe/Berlin"))
        for i in range(4)])
    results = []
    for _ in range(3):
        results.append(await service.run_round("Circles"))
        clock.advance(timedelta(days=7))
    assert len({frozenset(r.matches[0].participant_ids) for r in results}) == 1  # the same circle

    statements = await matched_statements(engine)
    assert len(statements) == 12  # four members, three sessions
    by_round: dict[str, list[dict[str, Any]]] = {}
    for statement in statements:
        # "matched" has the round as its object, the program and cohort as grouping.
        grouping = {g["id"] for g in statement["context"]["contextActivities"]["grouping"]}
        assert any("/cohorts/" in g for g in grouping) and any(g.endswith("/programs/" + results[0].program.id)
                                                               for g in grouping)
        by_round.setdefault(statement["object"]["id"], []).append(statement)
    assert [key.rsplit("/", 1)[-1] for key in sorted(by_round)] == ["1", "2", "3"]  # one context per session
    facilitators: list[str] = []
    for session in sorted(by_round):
        roles = [s["context"].get("extensions", {}).get(Extensions.ROLE) for s in by_round[session]]
        assert roles.count("facilitator") == 1 and len(roles) == 4  # circle members carry no profile role
        facilitators += [json.dumps(s["actor"], sort_keys=True) for s in by_round[session]
                         if s["context"].get("extensions", {}).get(Extensions.ROLE) == "facilitator"]
    assert len(set(facilitators)) == 3  # three sessions, three different facilitators
