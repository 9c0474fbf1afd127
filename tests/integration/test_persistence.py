"""The persistence suite: every test runs on SQLite and on PostgreSQL (see the db_url fixture)."""

from __future__ import annotations

import asyncio
import time
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from teams_app.adapters.clock import FixedClock
from teams_app.adapters.db import all_metadata
from teams_app.adapters.db.migrate import expected_heads, upgrade
from teams_app.adapters.db.uow import make_engine
from teams_app.domain import events as ev
from teams_app.domain.errors import (
    AlreadyEnrolled,
    ConsentRequired,
    InvalidInput,
    InvalidTransition,
    NotEnrolled,
    NotFound,
)
from teams_app.domain.model import EnrollmentStatus, MatchingPolicy, Meeting, MeetingStatus, Profile
from teams_app.service import rounds as round_use_cases
from teams_app.service.messagebus import MessageBus
from teams_app.service.ports import UnitOfWork
from teams_app.service.use_cases import CoachingService, ParticipantInput


def person(i: int, **profile: object) -> ParticipantInput:
    base: dict[str, object] = {"department": f"dept{i % 3}", "time_zone": "Europe/Berlin", "languages": "en"}
    base.update(profile)
    return ParticipantInput(email=f"person{i}@example.com", display_name=f"Person {i}",
                            profile=Profile.build(**base))  # type: ignore[arg-type]


async def test_upgrade_is_idempotent_and_matches_the_tables(engine: AsyncEngine) -> None:
    assert await upgrade(engine) == expected_heads()
    await _assert_schema_matches_metadata(engine)


async def test_migrations_replayed_on_an_empty_database_give_the_metadata_schema(db_url: str) -> None:
    """The fast road (tables from the metadata, stamped) and Alembic's replay must build one schema."""
    engine = make_engine(db_url)
    try:
        assert await upgrade(engine, from_metadata=False) == expected_heads()
        await _assert_schema_matches_metadata(engine)
        assert await upgrade(engine) == expected_heads()  # current: nothing to do
    finally:
        await engine.dispose()


async def _assert_schema_matches_metadata(engine: AsyncEngine) -> None:
    def diff(conn: sa.Connection) -> list[object]:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        return [d for d in compare_metadata(context, all_metadata()) if d[0] != "remove_table"
                or d[1].name != "alembic_version"]

    async with engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_program_round_trips_with_policy_and_framework(service: CoachingService) -> None:
    created = await service.create_program("Leaders", "mentoring", "monthly", cohort="2026-Q4",
                                           policy=MatchingPolicy(history_rounds=3, mentor_capacity=2))
    loaded = await service.get_program("Leaders")
    assert loaded == created
    assert loaded.policy.mentor_capacity == 2
    assert loaded.framework.prompts()[0] == "What would you like to improve?"
    assert [p.name for p in await service.list_programs()] == ["Leaders"]


async def test_duplicate_program_name_is_refused(service: CoachingService) -> None:
    await service.create_program("Leaders", "peer_pairs", "weekly")
    with pytest.raises(Exception, match="already exists"):
        await service.create_program("Leaders", "peer_pairs", "weekly")


async def test_enroll_requires_consent_and_refuses_twice(service: CoachingService) -> None:
    await service.create_program("P", "peer_pairs", "weekly")
    with pytest.raises(ConsentRequired):
        await service.enroll("P", person(1), consent=False)
    alice = await service.enroll("P", person(1), consent=True)
    with pytest.raises(AlreadyEnrolled):
        await service.enroll("P", person(1), consent=True)
    assert (await service.status("P")).enrolled == 1
    assert alice.profile.time_zone == "Europe/Berlin"


async def test_pause_resume_leave_and_rejoin(service: CoachingService, clock: FixedClock) -> None:
    await service.create_program("P", "peer_pairs", "weekly")
    alice = await service.enroll("P", person(1), consent=True)
    paused = await service.pause("P", alice.id, clock.now().date() + timedelta(days=14))
    assert paused.status is EnrollmentStatus.PAUSED
    assert (await service.status("P")).paused == 1
    with pytest.raises(InvalidInput, match="after today"):
        await service.pause("P", alice.id, clock.now().date())
    await service.resume("P", alice.id)
    with pytest.raises(InvalidTransition):
        await service.resume("P", alice.id)
    await service.leave("P", alice.id, erase=False)
    with pytest.raises(NotEnrolled):
        await service.pause("P", alice.id, None)
    await service.enroll("P", person(1), consent=True)  # coming back is allowed
    assert (await service.status("P")).active == 1


async def test_leave_with_erase_deletes_personal_data_after_handlers_saw_it(
        service: CoachingService, bus: MessageBus) -> None:
    seen: list[str] = []

    async def record(event: ev.ParticipantLeft, uow: UnitOfWork) -> None:
        participant = await uow.participants.get(event.participant_id)
        seen.append(participant.email if participant else "gone")

    bus.in_transaction(ev.ParticipantLeft, record)
    await service.create_program("P", "peer_pairs", "weekly")
    alice = await service.enroll("P", person(1), consent=True)
    await service.leave("P", alice.id, erase=True)
    assert seen == ["person1@example.com"]
    assert await service.find_participant(email="person1@example.com") is None


async def test_round_puts_everyone_in_exactly_one_match_and_odd_makes_a_trio(service: CoachingService) -> None:
    await service.create_program("P", "peer_pairs", "weekly")
    await service.import_participants("P", [person(i) for i in range(7)])
    result = await service.run_round("P", seed=7)
    members = [m for match in result.matches for m in match.participant_ids]
    assert sorted(members) == sorted(result.participants)
    assert sorted(len(m.members) for m in result.matches) == [2, 2, 3]
    views = await service.my_matches(result.matches[0].participant_ids[0])
    assert views[0].round.number == 1 and views[0].partners


async def test_history_prevents_repeats_over_rounds(service: CoachingService, clock: FixedClock) -> None:
    await service.create_program("P", "peer_pairs", "weekly")
    await service.import_participants("P", [person(i) for i in range(12)])
    seen: set[frozenset[str]] = set()
    for _ in range(5):
        result = await service.run_round("P")
        pairs = {frozenset(m.participant_ids) for m in result.matches}
        assert not pairs & seen
        seen |= pairs
        clock.advance(timedelta(days=7))
    rounds = (await service.status("P")).round
    assert rounds == 5


async def test_dry_run_saves_nothing(service: CoachingService) -> None:
    await service.create_program("P", "peer_pairs", "weekly")
    await service.import_participants("P", [person(i) for i in range(4)])
    dry = await service.run_round("P", dry_run=True)
    assert len(dry.matches) == 2
    assert (await service.status("P")).round == 0
    assert (await service.run_round("P")).round.number == 1


async def test_check_in_is_validated_and_recorded_once(service: CoachingService) -> None:
    await service.create_program("P", "peer_pairs", "weekly")
    await service.import_participants("P", [person(i) for i in range(2)])
    match = (await service.run_round("P")).matches[0]
    a = match.participant_ids[0]
    with pytest.raises(Exception, match="usefulness"):
        await service.record_check_in(match.id, a, met=True, usefulness=9)
    await service.record_check_in(match.id, a, met=True, usefulness=4, learned="ask open questions")
    with pytest.raises(InvalidTransition):
        await service.record_check_in(match.id, a, met=True, usefulness=4)
    with pytest.raises(NotFound):
        await service.record_check_in("no-such-match", a, met=False, usefulness=None)
    status = await service.status("P")
    assert (status.met, status.checked_in) == (1, 1)
    progress = await service.progress(a)
    assert progress.sessions_met == 1 and progress.average_usefulness == 4


async def test_meeting_is_stored_and_emits_one_event(service: CoachingService, bus: MessageBus) -> None:
    events: list[ev.Event] = []

    async def collect(event: ev.Event) -> None:
        events.append(event)

    bus.after_commit(ev.MeetingScheduled, collect)
    await service.create_program("P", "peer_pairs", "weekly")
    await service.import_participants("P", [person(i) for i in range(2)])
    match = (await service.run_round("P")).matches[0]
    start = service._clock.now() + timedelta(days=1)
    meeting = Meeting(match.id, MeetingStatus.SCHEDULED, start, start + timedelta(minutes=30), "https://join")
    await service.record_meeting(meeting)
    await service.record_meeting(meeting)  # a retry changes nothing
    assert len(events) == 1
    assert (await service.status("P")).meetings_scheduled == 1


async def test_claim_due_returns_due_programs_and_round_moves_the_schedule(
        service: CoachingService, clock: FixedClock) -> None:
    await service.create_program("Due", "peer_pairs", "weekly", next_round_at=clock.now() - timedelta(minutes=1))
    await service.create_program("Later", "peer_pairs", "weekly", next_round_at=clock.now() + timedelta(days=1))
    await service.import_participants("Due", [person(i) for i in range(4)])
    results = await service.run_due_rounds()
    assert [r.program.name for r in results] == ["Due"]
    assert await service.run_due_rounds() == []  # not due again until next week
    due = await service.get_program("Due")
    assert due.next_round_at == clock.now() + timedelta(days=7)


async def test_export_lists_every_member(service: CoachingService) -> None:
    await service.create_program("P", "peer_pairs", "weekly")
    await service.import_participants("P", [person(i) for i in range(5)])
    await service.run_round("P")
    rows = await service.export("P")
    assert len(rows) == 5 and {r.round for r in rows} == {1}


async def test_status_and_export_read_each_round_only_its_own_check_ins_and_meetings(
        service: CoachingService, clock: FixedClock) -> None:
    await service.create_program("P", "peer_pairs", "weekly")
    await service.import_participants("P", [person(i) for i in range(6)])
    first = (await service.run_round("P")).matches
    for member in first[0].participant_ids:
        await service.record_check_in(first[0].id, member, met=True, usefulness=5)
    start = clock.now() + timedelta(days=1)
    await service.record_meeting(Meeting(first[1].id, MeetingStatus.SCHEDULED, start, start + timedelta(minutes=30)))
    clock.advance(timedelta(days=7))
    second = (await service.run_round("P")).matches
    await service.record_check_in(second[2].id, second[2].participant_ids[0], met=False, usefulness=None)
    await service.record_meeting(Meeting(second[0].id, MeetingStatus.NO_COMMON_SLOT, detail="no overlap"))

    status = await service.status("P")  # the latest round only
    assert (status.round, status.checked_in, status.met) == (2, 1, 0)
    assert (status.meetings_scheduled, status.meetings_unscheduled) == (0, 1)
    assert status.meeting_problems == ("no_common_slot: no overlap",)

    rows = {(r.round, r.match_id, r.email): r for r in await service.export("P")}
    assert len(rows) == 12
    emails = {p.id: p.email for p in await service.roster("P")}
    for member in first[0].participant_ids:
        assert (rows[(1, first[0].id, emails[member])].met, rows[(1, first[0].id, emails[member])].usefulness) \
            == (True, 5)
    declined = rows[(2, second[2].id, emails[second[2].participant_ids[0]])]
    assert (declined.met, declined.usefulness) == (False, "")
    assert sum(1 for r in rows.values() if r.met != "") == 3


async def test_status_and_export_queries_do_not_grow_with_the_number_of_matches(
        service: CoachingService, engine: AsyncEngine) -> None:
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    async def queries(program: str) -> tuple[int, int]:
        statements.clear()
        await service.status(program)
        in_status = len(statements)
        statements.clear()
        await service.export(program)
        return in_status, len(statements)

    for name, size in (("Small", 4), ("Large", 40)):
        await service.create_program(name, "peer_pairs", "weekly")
        await service.import_participants(name, [person(i, department=f"d{i % 4}") for i in range(size)])
        for match in (await service.run_round(name)).matches:
            await service.record_check_in(match.id, match.participant_ids[0], met=True, usefulness=3)
    sa.event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        small, large = await queries("Small"), await queries("Large")
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert small == large  # 2 matches or 20: the same few queries


async def test_matching_runs_off_the_event_loop(service: CoachingService, monkeypatch: pytest.MonkeyPatch) -> None:
    # A round of 10,000 people is seconds of CPU: the bot must keep answering Teams meanwhile.
    ticks = 0
    seen_during_planning: list[int] = []

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    def slow_plan(*args: Any) -> Any:
        before = ticks
        time.sleep(0.3)  # stands in for the CPU the engine spends
        seen_during_planning.append(ticks - before)
        return real_plan(*args)

    real_plan = round_use_cases.plan_matches
    monkeypatch.setattr(round_use_cases, "plan_matches", slow_plan)
    await service.create_program("P", "peer_pairs", "weekly")
    await service.import_participants("P", [person(i) for i in range(4)])
    task = asyncio.create_task(ticker())
    try:
        assert len((await service.run_round("P")).matches) == 2
    finally:
        task.cancel()
    assert seen_during_planning and seen_during_planning[0] >= 5


async def test_paused_until_a_past_date_is_matched_again(service: CoachingService, clock: FixedClock) -> None:
    await service.create_program("P", "peer_pairs", "weekly")
    people = [await service.enroll("P", person(i), consent=True) for i in range(4)]
    await service.pause("P", people[0].id, date(2026, 11, 30))
    first = await service.run_round("P")
    assert people[0].id not in {p for m in first.matches for p in m.participant_ids}
    clock.advance(timedelta(days=8))
    second = await service.run_round("P")
    assert people[0].id in {p for m in second.matches for p in m.participant_ids}
