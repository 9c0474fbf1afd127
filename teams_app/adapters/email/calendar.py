"""``Calendar`` port without Graph: propose a time from working hours and send it as an ICS invitation.

Without calendar access we cannot see free/busy, so the slot respects everyone's working hours (each in
their own time zone), the program's preferences and the spreading of a round, and the people confirm it
by accepting the ``invite.ics`` in the intro email (built with :func:`build_invitation` from the returned
Meeting). The detail carries a Teams link to pick another time. Nothing is stored remotely, so cancel
only needs the CANCEL invitation the notification side sends.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote, urlencode

from teams_app.adapters.email.ics import invitation_uid
from teams_app.domain.model import Match, Meeting, MeetingStatus, Participant, Program, Role
from teams_app.domain.scheduling import NoSlot, SlotPreferences, SlotRequest, plan_round, window_bounds

logger = logging.getLogger(__name__)


def teams_new_meeting_link(subject: str, attendees: Sequence[str], start: datetime | None = None,
                           end: datetime | None = None) -> str:
    """Teams deep link opening 'new meeting' with subject, attendees and (optionally) the proposed time."""
    params = {"subject": subject, "attendees": ",".join(attendees)}
    if start is not None and end is not None:
        params["startTime"] = start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        params["endTime"] = end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return "https://teams.microsoft.com/l/meeting/new?" + urlencode(params, quote_via=quote)


class IcsCalendar:
    def __init__(self, *, now: Callable[[], datetime] | None = None,
                 lead_time: timedelta = timedelta(hours=24)) -> None:
        self._now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self._lead_time = lead_time  # people need time to see the email before the meeting
        self._load: dict[tuple[str, date, date], Counter[datetime]] = {}

    async def book(self, program: Program, match: Match, participants: Sequence[Participant],
                   window_start: date, window_end: date) -> Meeting:
        return self.plan(program, [(match, participants)], window_start, window_end)[0]

    async def cancel(self, meeting: Meeting) -> None:
        logger.info("meeting of match %s cancelled; the CANCEL invitation goes out with the notification",
                    meeting.match_id)

    def plan(self, program: Program, matches: Sequence[tuple[Match, Sequence[Participant]]], window_start: date,
             window_end: date) -> list[Meeting]:
        """Propose a slot for every match of a round (no I/O)."""
        window = window_bounds(window_start, window_end)
        load = self._load.setdefault((program.id, window_start, window_end), Counter())
        requests = [SlotRequest(match.id, people) for match, people in matches]
        plan = plan_round(requests, window, SlotPreferences.from_program(program),
                          not_before=self._now() + self._lead_time, existing_load=load)
        meetings: list[Meeting] = []
        subject = f"{program.name}: coaching conversation"
        for match, people in matches:
            slot = plan[match.id]
            emails = [p.email for p in people]
            if isinstance(slot, NoSlot):
                link = teams_new_meeting_link(subject, emails)
                meetings.append(Meeting(match.id, MeetingStatus.NO_COMMON_SLOT,
                                        detail=f"{slot.reason} Pick a time that suits you both in Teams: {link}"))
                continue
            load[slot.start.replace(minute=0, second=0, microsecond=0)] += 1
            organizer = _organizer(match, people)
            link = teams_new_meeting_link(subject, emails, slot.start, slot.end)
            meetings.append(Meeting(
                match.id, MeetingStatus.SCHEDULED, slot.start, slot.end, external_id=invitation_uid(match.id),
                organizer=organizer,
                detail=("Proposed within everyone's working hours (calendars were not checked): accept the "
                        f"invitation, or set up a Teams meeting at another time: {link}")))
        return meetings


def _organizer(match: Match, people: Sequence[Participant]) -> str:
    for person in people:
        try:
            if match.role_of(person.id) in (Role.MENTOR, Role.FACILITATOR):
                return person.email
        except KeyError:
            continue
    return people[0].email
