"""Domain events are recorded as xAPI statements in the same transaction and land in a real LRS (ralph).

Also: a retried event records nothing twice, a rollback records nothing; pause and resume are their own
verbs; rounds complete when their period ends (the last one too); a program completes by its rule; and
erasure withdraws undelivered statements, voids delivered ones (never a voiding statement) and leaves no
statement naming the person by email or name.
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
from lrs_bridge.outbox import enqueue, outbox_table
from lrs_bridge.profile import load_profile
from lrs_bridge.profile.validate import ProfileValidator, by_registration
from lrs_bridge.pseudonyms import pseudonym_table
from lrs_bridge.records import Person, ProgramRef, Voided, registration_for
from lrs_bridge.relay import Relay
from lrs_bridge.statements import StatementBuilder
from teams_app.adapters.clock import FixedClock
from teams_app.adapters.db import tables as t
from teams_app.adapters.db.uow import SqlUnitOfWorkFactory
from teams_app.adapters.xapi import XapiRecorder
from teams_app.domain.model import Profile
from teams_app.service.messagebus import MessageBus
from teams_app.service.round_periods import close_ended_rounds
from teams_app.service.use_cases import CoachingService, ParticipantInput
from tests.fixtures.ralph_lrs import RalphLrs

BASE = "https://peercoach.example/xapi"
PROFILE = "https://peercoach.example/xapi/profile"


def make_service(engine: AsyncEngine, clock: FixedClock) -> CoachingService:
    bus = MessageBus()
    # ralph 5.1 refuses Agent/Group statement objects, so the LRS-facing tests use activity objects.
    builder = StatementBuilder(activity_base_iri=BASE, agent_objects=False, clock=clock.now)
    XapiRecorder(builder, "system@peercoach.example", completion_sessions=2).register(bus)
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
    # One registration per person per program: each person's statements share it, nobody else's do.
    assert len({s["context"]["registration"] for s in round_one}) == 4
    by_actor: dict[str, set[str]] = {}
    for statement in statements:
        by_actor.setdefault(statement["actor"]["mbox"], set()).add(statement["context"]["registration"])
    assert all(len(regs) == 1 for regs in by_actor.values())
    for statement in matched:  # the other member by pseudonym only; their department, not them
        assert "@" not in json.dumps(statement["context"]["team"])
        assert statement["context"]["extensions"][f"{PROFILE}/extensions/partner-departments"][0] in ("d0", "d1")
    reflected = next(s for s in statements if s["verb"]["id"].endswith("/reflected")
                     and s["result"]["extensions"][f"{PROFILE}/extensions/met"])
    assert "score" not in reflected["result"]
    assert reflected["result"]["extensions"][f"{PROFILE}/extensions/usefulness"] == 5
    assert reflected["context"]["platform"] == "Microsoft Teams"
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
    (registered,) = await queued(engine)
    async with engine.begin() as conn:  # pretend the relay delivered the registration
        await conn.execute(outbox_table.update().values(status="sent"))
    await service.pause("Pairs", ana.id, clock.now().date() + timedelta(days=3))  # still queued
    await service.leave("Pairs", ana.id, erase=True)
    statements = await queued(engine)
    # The pause and the leaving were never delivered: withdrawn. The delivered registration is voided, and
    # its local copy (which names the person) is gone: only the person-free voiding statement is left.
    assert verbs(statements) == Counter({"voided": 1})
    (voiding,) = statements
    assert "c0@example.com" not in json.dumps(voiding) and "C0" not in json.dumps(voiding)
    assert voiding["object"] == {"objectType": "StatementRef", "id": registered["id"]}
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(t.xapi_statements))).scalar_one() == 0
        assert (await conn.execute(sa.select(sa.func.count()).select_from(pseudonym_table))).scalar_one() == 0


async def test_erasure_never_voids_a_voiding_statement(engine: AsyncEngine, clock: FixedClock) -> None:
    service = make_service(engine, clock)
    await service.create_program("Pairs", "peer_pairs", "weekly")
    ana = await service.enroll("Pairs", people("v", 1)[0], consent=True)
    # A voiding statement the person's index knows about (written by an earlier release, already sent).
    builder = StatementBuilder(activity_base_iri=BASE, clock=clock.now)
    (registered,) = await queued(engine)
    void = builder.build_serialized(Voided(event_key="void/legacy", timestamp=clock.now(), actor=Person(
        "v0@example.com", "V 0"), program=ProgramRef("p", "P"), voided_event_key="some-earlier-key"))
    async with engine.begin() as conn:
        await enqueue(conn, [void])
        await conn.execute(outbox_table.update().values(status="sent"))
        await conn.execute(t.xapi_statements.insert().values(statement_id=str(void.id), participant_id=ana.id,
                                                             event_key="legacy-release-edit"))
    await service.leave("Pairs", ana.id, erase=True)
    statements = await queued(engine)
    voided_ids = {s["object"]["id"] for s in statements if s["verb"]["id"].endswith("/voided")}
    assert registered["id"] in voided_ids
    assert str(void.id) not in voided_ids  # xAPI: a voiding statement cannot be voided


async def test_pause_and_resume_are_suspended_and_resumed_not_leaving(engine: AsyncEngine,
                                                                      clock: FixedClock) -> None:
    service = make_service(engine, clock)
    await service.create_program("Pairs", "peer_pairs", "weekly")
    ana = await service.enroll("Pairs", people("p", 1)[0], consent=True)
    await service.pause("Pairs", ana.id, clock.now().date() + timedelta(days=14))
    clock.advance(timedelta(days=1))
    await service.resume("Pairs", ana.id)
    clock.advance(timedelta(days=1))
    await service.leave("Pairs", ana.id, erase=False)
    statements = await queued(engine)
    assert [s["verb"]["id"].rsplit("/", 1)[-1] for s in statements] == [
        "registered", "suspended", "resumed", "unregistered"]
    assert statements[1]["context"]["extensions"] == {
        f"{PROFILE}/extensions/paused-until": (clock.now().date() + timedelta(days=12)).isoformat()}


async def test_a_round_completes_when_its_period_ends_the_last_one_included(engine: AsyncEngine,
                                                                           clock: FixedClock) -> None:
    service = make_service(engine, clock)
    await service.create_program("Pairs", "peer_pairs", "weekly")
    await service.import_participants("Pairs", people("r", 2))
    started = clock.now()
    match = (await service.run_round("Pairs")).matches[0]
    for pid in match.participant_ids:
        await service.record_check_in(match.id, pid, met=True, usefulness=4)
    clock.advance(timedelta(days=6))
    assert await close_ended_rounds(SqlUnitOfWorkFactory(engine), service._bus, clock) == []
    # No further round is ever started: the period's end alone completes it (and the program stops here).
    await service.update_program("Pairs", active=False)
    clock.advance(timedelta(days=2))
    assert len(await close_ended_rounds(SqlUnitOfWorkFactory(engine), service._bus, clock)) == 1
    completed = [s for s in await queued(engine) if s["verb"]["id"].endswith("/completed")]
    rounds = [s for s in completed if s["object"]["id"].endswith("/rounds/1")]
    assert len(rounds) == 2
    for statement in rounds:
        assert statement["result"]["completion"] is True
        assert statement["result"]["duration"] == "P7DT00H00M00S"
        assert statement["timestamp"] == (started + timedelta(days=7)).isoformat()
    assert await close_ended_rounds(SqlUnitOfWorkFactory(engine), service._bus, clock) == []  # once


async def test_program_completes_by_its_rule_with_completion_and_duration(engine: AsyncEngine,
                                                                         clock: FixedClock) -> None:
    service = make_service(engine, clock)  # the rule here: two sessions attended
    await service.create_program("Pairs", "peer_pairs", "weekly")
    await service.import_participants("Pairs", people("q", 2))
    joined = clock.now()
    for _ in range(2):
        match = (await service.run_round("Pairs")).matches[0]
        for pid in match.participant_ids:
            await service.record_check_in(match.id, pid, met=True, usefulness=3)
        clock.advance(timedelta(days=7))
    program_done = [s for s in await queued(engine) if s["verb"]["id"].endswith("/completed")
                    and s["object"]["definition"]["type"].endswith("/program")]
    assert len(program_done) == 2
    for statement in program_done:
        assert statement["result"]["completion"] is True
        assert statement["result"]["duration"] == "P7DT00H00M00S"  # joined -> second session attended
    assert joined < clock.now()


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
        registration = registration_for(program.id, mentor)  # one per person per program
        back = [s async for s in client.get_statements(registration=registration)]
    ours = {s["id"] for s in sent if s.get("context", {}).get("registration") == str(registration)}
    assert {s["id"] for s in back} == ours
    assert verbs(back) == Counter({"registered": 1, "matched": 1, "reflected": 1, "attended": 1, "mentored": 1})
    for statement in back:
        BaseXapiStatement.model_validate(statement)


async def test_a_whole_program_matches_the_profile_templates_and_primary_pattern(engine: AsyncEngine,
                                                                                 clock: FixedClock) -> None:
    service = make_service(engine, clock)
    await service.create_program("Circle", "peer_pairs", "weekly", cohort="2026-Q4")
    enrolled = await service.import_participants("Circle", people("w", 4))
    assert enrolled
    roster = await service.roster("Circle")
    for number in range(3):
        result = await service.run_round("Circle")
        for match in result.matches:
            for pid in match.participant_ids:
                await service.record_check_in(match.id, pid, met=number != 1, usefulness=2 + number)
        if number == 0:
            await service.pause("Circle", roster[0].id, clock.now().date() + timedelta(days=9))
        if number == 1:
            await service.resume("Circle", roster[0].id)
        clock.advance(timedelta(days=7))
    await service.leave("Circle", roster[1].id, erase=False)
    await service.update_program("Circle", active=False)
    clock.advance(timedelta(days=7))
    await close_ended_rounds(SqlUnitOfWorkFactory(engine), service._bus, clock)  # the last round too
    statements = await queued(engine)
    validator = ProfileValidator(load_profile())
    for statement in statements:
        assert len(validator.matching_templates(statement)) == 1, validator.explain(statement)
    groups = by_registration(statements)
    assert len(groups) == 4  # one registration per person per program
    for group in groups.values():
        assert validator.matching_patterns(group), " ".join(s["verb"]["id"].rsplit("/", 1)[-1] for s in group)
    assert {"suspended", "resumed", "unregistered", "completed"} <= set(verbs(statements))


async def test_a_pause_that_ends_by_its_date_is_recorded_as_resumed(engine: AsyncEngine, clock: FixedClock) -> None:
    service = make_service(engine, clock)
    await service.create_program("Pairs", "peer_pairs", "weekly")
    await service.import_participants("Pairs", people("e", 3))
    roster = await service.roster("Pairs")
    await service.pause("Pairs", roster[0].id, clock.now().date() + timedelta(days=3))
    clock.advance(timedelta(days=7))
    await service.run_round("Pairs")  # the pause is over: matched again, and recorded as resumed
    resumed = [s for s in await queued(engine) if s["verb"]["id"].endswith("/resumed")]
    assert len(resumed) == 1 and resumed[0]["actor"]["mbox"] == f"mailto:{roster[0].email}"
