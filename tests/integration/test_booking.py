"""The booking worker books each new match once and records it; failures are recorded, not lost."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from teams_app.adapters.email.calendar import IcsCalendar
from teams_app.domain.model import Match, Meeting, Participant, Profile, Program
from teams_app.service.use_cases import CoachingService, ParticipantInput


def people(n: int) -> list[ParticipantInput]:
    return [ParticipantInput(f"b{i}@example.com", f"B{i}", Profile.build(time_zone="Europe/Berlin"))
            for i in range(n)]


async def test_matches_are_booked_once_and_status_counts_them(service: CoachingService) -> None:
    await service.create_program("P", "peer_pairs", "weekly")
    await service.import_participants("P", people(6))
    await service.run_round("P")
    calendar = IcsCalendar(now=service._clock.now)
    assert await service.book_open_matches(calendar) == 3
    assert await service.book_open_matches(calendar) == 0  # nothing left to book
    status = await service.status("P")
    assert status.meetings_scheduled == 3 and status.meeting_problems == ()
    views = await service.my_matches((await service.find_participant(email="b0@example.com")).id)  # type: ignore[union-attr]
    assert views[0].meeting is not None and views[0].meeting.start is not None


class BrokenCalendar:
    async def book(self, program: Program, match: Match, participants: Sequence[Participant],
                   window_start: date, window_end: date) -> Meeting:
        raise ConnectionError("graph unreachable")

    async def cancel(self, meeting: Meeting) -> None:
        raise AssertionError("not used")


async def test_a_failed_booking_is_recorded_for_the_admin(service: CoachingService) -> None:
    await service.create_program("P", "peer_pairs", "weekly")
    await service.import_participants("P", people(2))
    await service.run_round("P")
    assert await service.book_open_matches(BrokenCalendar()) == 1
    status = await service.status("P")
    assert status.meetings_unscheduled == 1
    assert status.meeting_problems == ("failed: booking failed: ConnectionError",)
