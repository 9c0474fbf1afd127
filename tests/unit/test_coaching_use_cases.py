"""The coaching use cases on the in-memory fakes (no database): rounds, reschedule and cancel, check-in prompts,
with the notices they queue in the same unit of work; and the domain rules and worker helper they use."""

from __future__ import annotations

import asyncio
import itertools
import logging
from datetime import date, timedelta

import pytest

from teams_app.domain import events as ev
from teams_app.domain.errors import AlreadyEnrolled, ConsentRequired, InvalidInput, NotFound
from teams_app.domain.model import Enrollment, EnrollmentStatus, Meeting, MeetingStatus, Profile, Round
from teams_app.domain.notifications import NotificationKind, checkin_due_at, checkin_notice_due
from teams_app.service.check_ins import CheckInPrompts
from teams_app.service.messagebus import MessageBus
from teams_app.service.notifications import NotificationPlanner
from teams_app.service.use_cases import CoachingService, ParticipantInput
from teams_app.service.workers import periodic
from tests.unit.assessment_fakes import FakeClock, FakeNotifications, FakeUowFactory


class World:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.uows = FakeUowFactory()
        self.bus = MessageBus()
        self.woken = 0
        self.events: list[ev.Event] = []

        async def record(event: ev.Event, uow: object) -> None:
            self.events.append(event)

        def wake() -> None:
            self.woken += 1

        self.bus.in_transaction(ev.Event, record)
        NotificationPlanner(wake=wake).register(self.bus)
        self.service = CoachingService(self.uows, self.bus, self.clock)
        self.prompts = CheckInPrompts(self.uows, self.clock, wake=wake)

    @property
    def queued(self) -> FakeNotifications:
        return FakeNotifications(self.uows.store)

    async def pairs(self, people: int = 4) -> list[str]:
        await self.service.create_program("Pairs", "peer_pairs", "weekly")
        ids = []
        for i in range(people):
            person = await self.service.enroll("Pairs", ParticipantInput(
                f"p{i}@example.com", f"Person {i}", Profile.build(department=f"d{i % 2}")), consent=True)
            ids.append(person.id)
        return ids


async def test_enrolling_needs_consent_and_happens_once() -> None:
    w = World()
    await w.pairs(1)
    with pytest.raises(ConsentRequired):
        await w.service.enroll("Pairs", ParticipantInput("x@example.com"), consent=False)
    with pytest.raises(AlreadyEnrolled):
        await w.service.enroll("Pairs", ParticipantInput("p0@example.com"), consent=True)


async def test_a_round_queues_one_intro_per_member_in_its_own_transaction() -> None:
    w = World()
    await w.pairs(5)
    result = await w.service.run_round("Pairs", seed=1)
    intros = w.queued.of_kind(NotificationKind.INTRO)
    members = {pid for m in result.matches for pid in m.participant_ids}
    assert sorted(n.recipient_id for n in intros) == sorted(members)
    assert w.woken >= 1
    dry = await w.service.run_round("Pairs", seed=2, dry_run=True)
    assert dry.matches and len(w.queued.of_kind(NotificationKind.INTRO)) == len(intros)  # rolled back


async def test_reschedule_tells_the_partner_once_and_cancel_calls_off_a_pairs_meeting() -> None:
    w = World()
    await w.pairs(2)
    (match,) = (await w.service.run_round("Pairs", seed=1)).matches
    actor, partner = match.participant_ids
    start = w.clock.now() + timedelta(days=1)
    await w.service.record_meeting(Meeting(match.id, MeetingStatus.SCHEDULED, start, start + timedelta(hours=1)))

    assert await w.service.request_reschedule(match.id, actor) == 1
    assert await w.service.request_reschedule(match.id, actor) == 1  # asking twice: the partner is told once
    (told,) = w.queued.of_kind(NotificationKind.PARTNER_RESCHEDULE)
    names = {p.id: p.display_name for p in w.uows.store.participants.values()}
    assert told.recipient_id == partner and told.payload["name"] == names[actor]
    assert await w.service.cancel_attendance(match.id, actor) == 1
    assert [n.recipient_id for n in w.queued.of_kind(NotificationKind.PARTNER_CANCEL)] == [partner]
    cancelled = [e for e in w.events if isinstance(e, ev.MeetingCancelled)]
    assert cancelled and cancelled[0].meeting_called_off
    assert w.uows.store.meetings[match.id].status is MeetingStatus.CANCELLED
    assert len([e for e in w.events if isinstance(e, ev.MeetingRescheduleRequested)]) == 2


async def test_asking_to_reschedule_again_after_a_new_time_was_booked_tells_the_partner_again() -> None:
    w = World()
    await w.pairs(2)
    (match,) = (await w.service.run_round("Pairs", seed=1)).matches
    actor, partner = match.participant_ids
    first = w.clock.now() + timedelta(days=1)
    await w.service.record_meeting(Meeting(match.id, MeetingStatus.SCHEDULED, first, first + timedelta(hours=1)))
    await w.service.request_reschedule(match.id, actor)
    await w.service.request_reschedule(match.id, actor)  # a second press for the same time
    second = first + timedelta(days=2)
    await w.service.record_meeting(Meeting(match.id, MeetingStatus.SCHEDULED, second, second + timedelta(hours=1)))
    await w.service.request_reschedule(match.id, actor)  # the new time does not suit either
    told = w.queued.of_kind(NotificationKind.PARTNER_RESCHEDULE)
    assert [n.recipient_id for n in told] == [partner, partner]


class RecordingCalendar:
    """Satisfies the Calendar port: records cancellations, fails the first one when asked."""

    def __init__(self, fail_first: bool = False) -> None:
        self.cancelled: list[str] = []
        self.fail_first = fail_first

    async def book(self, *args: object) -> Meeting:
        raise AssertionError("nothing to book here")

    async def cancel(self, meeting: Meeting) -> None:
        if self.fail_first:
            self.fail_first = False
            raise ConnectionError("Graph answered 503")
        self.cancelled.append(meeting.external_id)


async def test_a_called_off_meeting_leaves_the_calendar_once_even_after_a_failure() -> None:
    w = World()
    await w.pairs(2)
    (match,) = (await w.service.run_round("Pairs", seed=1)).matches
    start = w.clock.now() + timedelta(days=1)
    await w.service.record_meeting(Meeting(match.id, MeetingStatus.SCHEDULED, start, start + timedelta(hours=1),
                                           external_id="evt-1", organizer="coach@example.com"))
    calendar = RecordingCalendar(fail_first=True)
    assert await w.service.cancel_called_off(calendar) == 0  # nothing called off yet
    await w.service.cancel_attendance(match.id, match.participant_ids[0])
    assert await w.service.cancel_called_off(calendar) == 0  # Graph failed: kept for the next tick
    assert await w.service.cancel_called_off(calendar) == 1
    assert await w.service.cancel_called_off(calendar) == 0
    assert calendar.cancelled == ["evt-1"]
    assert w.uows.store.meetings[match.id].status is MeetingStatus.CANCELLED


async def test_only_a_member_can_reschedule_or_cancel() -> None:
    w = World()
    await w.pairs(4)
    first, second = (await w.service.run_round("Pairs", seed=1)).matches
    with pytest.raises(NotFound):
        await w.service.request_reschedule("no-such-match", first.participant_ids[0])
    with pytest.raises(InvalidInput):
        await w.service.cancel_attendance(first.id, second.participant_ids[0])
    assert not [e for e in w.events if isinstance(e, ev.MeetingCancelled | ev.MeetingRescheduleRequested)]
    assert w.queued.of_kind(NotificationKind.PARTNER_CANCEL) == []


async def test_check_in_prompts_ask_then_remind_once_and_stop_after_the_check_in() -> None:
    w = World()
    await w.pairs(2)
    (match,) = (await w.service.run_round("Pairs", seed=1)).matches
    first, second = match.participant_ids
    assert await w.prompts.scan() == 0  # not due yet
    w.clock.advance(days=5)
    assert await w.prompts.scan() == 2
    assert await w.prompts.scan() == 0
    await w.service.record_check_in(match.id, first, met=True, usefulness=4)
    w.clock.advance(days=2)
    assert await w.prompts.scan() == 1
    (reminder,) = w.queued.of_kind(NotificationKind.CHECKIN_REMINDER)
    assert reminder.recipient_id == second
    w.clock.advance(days=7)
    assert await w.prompts.scan() == 0


def test_who_is_due_a_check_in_card_or_a_reminder() -> None:
    r = Round("r", "p", 1, FakeClock().now(), 1)
    day = timedelta(days=1)
    due = checkin_due_at(r, None, 5 * day)
    assert due == r.started_at + 5 * day
    end = r.started_at + 2 * day
    assert checkin_due_at(r, Meeting("m", MeetingStatus.SCHEDULED, end - day / 24, end), 5 * day) == end
    assert checkin_due_at(r, Meeting("m", MeetingStatus.CANCELLED, end - day / 24, end), 5 * day) == due
    assert checkin_notice_due(due - day, due, None, 2 * day) is None
    assert checkin_notice_due(due, due, None, 2 * day) is NotificationKind.CHECKIN
    assert checkin_notice_due(due + day, due, due, 2 * day) is None
    assert checkin_notice_due(due + 2 * day, due, due, 2 * day) is NotificationKind.CHECKIN_REMINDER


def test_after_a_round_priority_carries_over_and_an_ended_pause_is_over() -> None:
    now = FakeClock().now()
    member = Enrollment("p", "a", EnrollmentStatus.ACTIVE, now, now, priority=2)
    assert member.after_round(True).priority == 3
    assert member.after_round(False).priority == 0
    paused = Enrollment("p", "a", EnrollmentStatus.PAUSED, now, now, paused_until=date(2026, 1, 1))
    after = paused.after_round(False)
    assert (after.status, after.paused_until) == (EnrollmentStatus.ACTIVE, None)


async def test_a_periodic_job_backs_off_after_repeated_failures_and_stops_promptly(
        caplog: pytest.LogCaptureFixture) -> None:
    calls: list[float] = []
    loop = asyncio.get_running_loop()

    async def tick() -> None:
        calls.append(loop.time())
        raise ConnectionError("database restarting")

    stop = asyncio.Event()
    with caplog.at_level(logging.ERROR):
        task = asyncio.create_task(periodic("test job", tick, 0.02)(stop))
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.wait_for(task, timeout=1)
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert len(calls) >= 3 and all(gap >= 0.019 for gap in gaps)
    assert len(calls) < 0.5 / 0.02  # backed off: fewer tries than one per interval
    assert "test job tick failed (1 in a row)" in caplog.text


async def test_a_periodic_job_runs_every_interval_while_it_succeeds() -> None:
    calls = 0

    async def tick() -> None:
        nonlocal calls
        calls += 1

    stop = asyncio.Event()
    task = asyncio.create_task(periodic("ok job", tick, 0.01)(stop))
    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.wait_for(task, timeout=1)
    assert calls >= 5
