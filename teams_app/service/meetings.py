"""Meetings: book the open matches, record the outcome, and a member's reschedule or cancel."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from teams_app.domain import events as ev
from teams_app.domain.errors import (
    NotFound,
)
from teams_app.domain.model import (
    Match,
    Meeting,
    MeetingStatus,
    Participant,
    Program,
    Round,
)
from teams_app.service.base import UseCases
from teams_app.service.ports import Calendar, UnitOfWork

logger = logging.getLogger(__name__)


class Meetings(UseCases):
    async def matches_to_book(self, limit: int = 500) -> list[tuple[Program, Round, Match, list[Participant]]]:
        """Matches of open rounds without a meeting yet, with what the calendar needs to book them."""
        async with self._uow() as uow:
            out = []
            for match in await uow.matches.unbooked(limit):
                if any([await uow.check_ins.get(match.id, pid) for pid in match.participant_ids]):
                    continue  # they already checked in: they met, there is nothing left to book
                program = await uow.programs.get(match.program_id)
                round_ = await uow.rounds.get(match.round_id)
                people = {p.id: p for p in await uow.participants.get_many(list(match.participant_ids))}
                if program is None or round_ is None or len(people) < len(match.members):
                    continue  # someone was erased: the match is not booked
                out.append((program, round_, match, [people[pid] for pid in match.participant_ids]))
            return out

    async def book_open_matches(self, calendar: Calendar) -> int:
        """Book every unbooked match of the open rounds; returns how many meetings were recorded.

        Safe to repeat: the calendar derives a transaction id from the match, so a retry after a crash between
        booking and recording finds the same event instead of creating a second one.
        """
        pending = await self.matches_to_book()
        if not pending:
            return 0

        async def book_one(program: Program, round_: Round, match: Match, people: list[Participant]) -> Meeting:
            start = round_.started_at.date()
            end = program.cadence.next_after(round_.started_at).date()
            try:
                return await calendar.book(program, match, people, start, end)
            except Exception as exc:  # one failure must not stop the others; the admin sees it in `status`
                logger.exception("booking match %s failed", match.id)
                return Meeting(match.id, MeetingStatus.FAILED, detail=f"booking failed: {type(exc).__name__}")

        # Concurrent calls for one program and window are combined by the Graph calendar into batched requests.
        meetings = await asyncio.gather(*(book_one(*item) for item in pending))
        for meeting in meetings:
            await self.record_meeting(meeting)
        return len(meetings)

    async def cancel_called_off(self, calendar: Calendar, limit: int = 200) -> int:
        """Take meetings that were called off out of people's calendars; returns how many were cancelled.

        The event id is cleared once the calendar confirmed, so a failure is retried on the next tick and a
        success is not repeated.
        """
        async with self._uow() as uow:
            pending = await uow.meetings.called_off(limit)
        done = 0
        for meeting in pending:
            try:
                await calendar.cancel(meeting)
            except Exception:
                logger.exception("cancelling the calendar event of match %s failed; retrying later",
                                 meeting.match_id)
                continue
            async with self._uow() as uow:
                await uow.meetings.upsert(replace(meeting, external_id=""))
                await uow.commit()
            done += 1
        return done

    async def record_meeting(self, meeting: Meeting) -> None:
        now = self._clock.now()
        async with self._uow() as uow:
            match = await uow.matches.get(meeting.match_id)
            if match is None:
                raise NotFound("match", meeting.match_id)
            before = await uow.meetings.get(meeting.match_id)
            if before is not None and before.settled and meeting.status is not before.status:
                # They met or called it off while the booking was under way: keep that, and let the
                # calendar take back an event it created (cancel_called_off acts on its external id).
                if meeting.external_id and not before.external_id and meeting.booked:
                    await uow.meetings.upsert(replace(meeting.call_off(before.detail or "already settled")))
                    await uow.commit()
                logger.info("not recording a %s meeting for match %s: it is already %s", meeting.status.value,
                            match.id, before.status.value)
                return
            await uow.meetings.upsert(meeting)
            if meeting.status is MeetingStatus.SCHEDULED and meeting.start and meeting.end:
                if before is None or (before.start, before.status) != (meeting.start, meeting.status):
                    uow.events.append(ev.MeetingScheduled(
                        f"meeting/{match.id}/{meeting.start.isoformat()}", now, match.program_id, match.id,
                        meeting.start, meeting.end, meeting.join_url))
            elif meeting.status is MeetingStatus.NO_COMMON_SLOT and (before is None or before.status != meeting.status):
                uow.events.append(ev.MeetingNotScheduled(f"no-slot/{match.id}", now, match.program_id, match.id,
                                                         meeting.detail))
            await self._bus.commit(uow)

    async def note_met(self, match_id: str, participant_id: str) -> None:
        """A member says they met (the We met button): a match without a meeting is no longer booked."""
        async with self._uow() as uow:
            match = await self._member_match(uow, match_id, participant_id)
            if await uow.meetings.get(match.id) is None:
                await uow.meetings.upsert(Meeting(match.id, MeetingStatus.HELD,
                                                  detail="the members met before a meeting was booked"))
                await uow.commit()

    async def request_reschedule(self, match_id: str, participant_id: str) -> int:
        """A member asks to find a new time for the session; returns how many partners are told."""
        now = self._clock.now()
        async with self._uow() as uow:
            match = await self._member_match(uow, match_id, participant_id)
            # Keyed on the meeting asked about: a second press for the same time tells no one again, but asking
            # again after a new time was booked is news for the partner.
            meeting = await uow.meetings.get(match.id)
            about = meeting.start.isoformat() if meeting is not None and meeting.start else "unbooked"
            uow.events.append(ev.MeetingRescheduleRequested(
                f"partner_reschedule/{match.id}/{participant_id}/{about}", now, match.program_id, match.id,
                participant_id))
            told = await self._partners(uow, match, participant_id)
            await self._bus.commit(uow)
        return told

    async def cancel_attendance(self, match_id: str, participant_id: str) -> int:
        """A member can't make the session this time (a pair's meeting is called off); returns partners told."""
        now = self._clock.now()
        async with self._uow() as uow:
            match = await self._member_match(uow, match_id, participant_id)
            meeting = await uow.meetings.get(match.id)
            called_off = False
            if match.absence_calls_off_meeting and meeting is not None \
                    and meeting.status is MeetingStatus.SCHEDULED:
                await uow.meetings.upsert(meeting.call_off("a participant can't make it"))
                called_off = True
            elif match.absence_calls_off_meeting and meeting is None:
                # Nothing booked yet: record the call-off so the booking worker does not book it after all.
                await uow.meetings.upsert(Meeting(match.id, MeetingStatus.CANCELLED,
                                                  detail="a participant can't make it"))
            uow.events.append(ev.MeetingCancelled(f"partner_cancel/{match.id}/{participant_id}", now,
                                                  match.program_id, match.id, participant_id, called_off))
            told = await self._partners(uow, match, participant_id)
            await self._bus.commit(uow)
        return told

    @staticmethod
    async def _member_match(uow: UnitOfWork, match_id: str, participant_id: str) -> Match:
        match = await uow.matches.get(match_id)
        if match is None:
            raise NotFound("match", match_id)
        match.require_member(participant_id)
        return match

    @staticmethod
    async def _partners(uow: UnitOfWork, match: Match, participant_id: str) -> int:
        others = [pid for pid in match.participant_ids if pid != participant_id]
        return len(await uow.participants.get_many(others))
