"""Domain events are recorded as xAPI statements in the same transaction and land in a real LRS (ralph).

Also: a retried event records nothing twice, a rollback records nothing, and erasure withdraws undelivered
statements and voids delivered ones without naming the person in the voiding statements.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from ralph.models.xapi.base.statements import BaseXapiStatement
from sqlalchemy.ext.asyncio import AsyncEngine

from lrs_bridge.client import LrsClient
from lrs_bridge.outbox import outbox_table
from lrs_bridge.relay import Relay
from lrs_bridge.statements import StatementBuilder
from teams_app.adapters.clock import FixedClock
from teams_app.adapters.db import tables as t
from teams_app.adapters.db.uow import SqlUnitOfWorkFactory
from teams_app.adapters.xapi import XapiRecorder
from teams_app.domain.model import Profile
from teams_app.service.messagebus import MessageBus
from teams_app.service.use_cases import CoachingService, ParticipantInput
from tests.fixtures.ralph_lrs import RalphLrs

BASE = "https://peercoach.example/xapi"


def make_service(engine: AsyncEngine, clock: FixedClock) -> CoachingService:
    bus = MessageBus()
    # ralph 5.1 refuses Agent/Group statement objects, so the LRS-facing tests use activity objects.
    builder = StatementBuilder(activity_base_iri=BASE, agent_objects=False)
    XapiRecorder(builder, "system@peercoach.example").register(bus)
    return CoachingService(SqlUnitOfWorkFactory(engine), bus, clock)


def people(prefix: str, n: int) -> list[ParticipantInput]:
    return [ParticipantInput(f"{prefix}{i}@example.com", f"{prefix.title()} {i}",
                             Profile.build(time_zone="Europe/Berlin", department=f"d{i % 2}", seniority=1 + i % 5))
            for i in range(n)]


async def queued(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(outbox_table.c.payload).order_by(outbox_table.c.id))
        return [json.loads(r.payload) for r in rows]


def verbs(statements: list[dict[str, Any]]) -> Counter[str]:
    return Counter(s["verb"]["id"].rsplit("/", 1)[-1] for s in statements)


async def test_each_use_case_queues_its_statements_once(engine: AsyncEngine, clock: FixedClock) -> None:
    service = make_service(engine, clock)
    await service.create_program("Pairs", "peer_pairs", "weekly", cohort="2026-Q4")
    await service.import_participants("Pairs", people("a", 4))
    result = await service.run_round("Pairs")
    match = result.matches[0]
    a, b = match.participant_ids
    await service.record_check_in(match.id, a, met=True, usefulness=5, learned="listen first")
    await service.record_check_in(match.id, b, met=False, usefulness=None)
    clock.advance(timedelta(days=7))
    await service.run_round("Pairs")  # completes round 1
    statements = await queued(engine)
    assert verbs(statements) == Counter({"registered": 4, "matched": 8, "reflected": 2, "attended": 1,
                                         "talked-with": 1, "completed": 1})
    matched = [s for s in statements if s["verb"]["id"].endswith("/matched")]
    round_one = [s for s in matched if s["object"]["id"].endswith("/rounds/1")]  # the round is the object
    assert {s["context"]["registration"] for s in round_one} == {m.registration for m in result.matches}
    grouping = {g["id"] for s in statements for g in s["context"]["contextActivities"]["grouping"]}
    assert any(i.endswith("/programs/" + result.program.id) for i in grouping)
    for statement in statements:
        BaseXapiStatement.model_validate(statement)  # ralph's strict model


async def test_a_failed_transaction_records_nothing(engine: AsyncEngine, clock: FixedClock) -> None:
    service = make_service(engine, clock)
    await service.create_program("Pairs", "peer_pairs", "weekly")
    with pytest.raises(Exception, match="not an email address"):  # the third row fails after two enrolled
        await service.import_participants("Pairs", [*people("b", 2), ParticipantInput("not-an-address", "X")])
    assert await queued(engine) == []


async def test_erasure_withdraws_undelivered_and_voids_delivered_statements(
        engine: AsyncEngine, clock: FixedClock) -> None:
    service = make_service(engine, clock)
    await service.create_program("Pairs", "peer_pairs", "weekly")
    ana = await service.enroll("Pairs", people("c", 1)[0], consent=True)
    async with engine.begin() as conn:  # pretend the relay delivered the registration
        await conn.execute(outbox_table.update().values(status="sent"))
    await service.pause("Pairs", ana.id, clock.now().date() + timedelta(days=3))  # still queued
    await service.leave("Pairs", ana.id, erase=True)
    statements = await queued(engine)
    # The pause and the leaving were never delivered: withdrawn. The delivered registration is voided.
    assert verbs(statements) == Counter({"registered": 1, "voided": 1})
    voiding = next(s for s in statements if s["verb"]["id"].endswith("/voided"))
    assert "c0@example.com" not in json.dumps(voiding)
    assert voiding["object"] == {"objectType": "StatementRef", "id": statements[0]["id"]}
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(t.xapi_statements))).scalar_one() == 0


@pytest.mark.slow
async def test_statements_land_in_ralph_and_read_back(engine: AsyncEngine, clock: FixedClock,
                                                      ralph_lrs: RalphLrs) -> None:
    service = make_service(engine, clock)
    await service.create_program(f"Mentoring {uuid.uuid4().hex[:6]}", "mentoring", "monthly")
    program = (await service.list_programs())[0]
    await service.import_participants(program.name, people(f"m{uuid.uuid4().hex[:4]}", 2))
    match = (await service.run_round(program.name)).matches[0]
    mentor = next(m.participant_id for m in match.members if m.role.value == "mentor")
    await service.record_check_in(match.id, mentor, met=True, usefulness=4, learned="silence helps")
    client = LrsClient(ralph_lrs.endpoint, username=ralph_lrs.username, password=ralph_lrs.password)
    async with client:
        report = await Relay(engine, client, batch_size=50).run_once()
        assert report.dead == 0
        sent = await queued(engine)
        back = [s async for s in client.get_statements(registration=uuid.UUID(match.registration))]
    ours = {s["id"] for s in sent if s.get("context", {}).get("registration") == match.registration}
    assert {s["id"] for s in back} == ours
    assert verbs(back) == Counter({"matched": 2, "reflected": 1, "attended": 1, "mentored": 1})
    for statement in back:
        BaseXapiStatement.model_validate(statement)
