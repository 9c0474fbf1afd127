"""iCalendar invitations (RFC 5545 / iTIP RFC 5546) built with the ``icalendar`` library.

Used when Graph is not configured: the intro email carries ``invite.ics`` so people can add the meeting
to whatever calendar they use. The UID is derived from the match, so a rescheduled or cancelled
invitation (higher SEQUENCE) replaces the first one in the person's calendar instead of adding another.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from icalendar import Calendar, Event, vCalAddress, vText

from teams_app.domain.model import (
    PROPOSAL_UID_SUFFIX,
    Cadence,
    Meeting,
    MeetingStatus,
    Participant,
    Program,
    ProgramKind,
)

PRODID = "-//peercoach//peer coaching//EN"
ICS_FILENAME = "invite.ics"


def ics_content_type(method: str = "REQUEST") -> str:
    return f"text/calendar; method={method}; charset=utf-8"


def invitation_uid(match_id: str) -> str:
    return f"{match_id}{PROPOSAL_UID_SUFFIX}"


def _address(person: Participant, role: str | None = None) -> vCalAddress:
    address = vCalAddress(f"mailto:{person.email}")
    address.params["CN"] = vText(person.display_name)
    if role:
        address.params["ROLE"] = vText(role)
        address.params["PARTSTAT"] = vText("NEEDS-ACTION")
        address.params["RSVP"] = vText("TRUE")
    return address


def build_invitation(program: Program, meeting: Meeting, organizer: Participant | str,
                     attendees: Sequence[Participant], *, sequence: int = 0, now: datetime | None = None) -> bytes:
    """An iTIP REQUEST (or CANCEL for a cancelled meeting) for one match's meeting."""
    if meeting.start is None or meeting.end is None:
        raise ValueError("an invitation needs the meeting's start and end")
    if meeting.start.tzinfo is None or meeting.end.tzinfo is None:
        raise ValueError("meeting times must be timezone-aware")
    if meeting.end <= meeting.start:
        raise ValueError("the meeting must end after it starts")
    cancelled = meeting.status is MeetingStatus.CANCELLED
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "CANCEL" if cancelled else "REQUEST")
    event = Event()
    event.add("uid", invitation_uid(meeting.match_id))
    event.add("dtstamp", (now or datetime.now(UTC)).astimezone(UTC))
    event.add("dtstart", meeting.start.astimezone(UTC))
    event.add("dtend", meeting.end.astimezone(UTC))
    event.add("sequence", sequence)
    event.add("summary", f"{program.name}: coaching conversation")
    prompts = "\n".join(f"- {prompt}" for prompt in program.framework.prompts())
    description = f"{program.framework.name} prompts to guide your conversation:\n{prompts}"
    if meeting.join_url:
        description = f"Join: {meeting.join_url}\n\n{description}"
        event.add("location", meeting.join_url)
        event.add("url", meeting.join_url)
    event.add("description", description)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if isinstance(organizer, Participant):
        event.add("organizer", _address(organizer))
    else:
        address = vCalAddress(f"mailto:{organizer}")
        address.params["CN"] = vText(program.name)
        event.add("organizer", address)
    organizer_email = organizer.email if isinstance(organizer, Participant) else organizer
    for person in attendees:
        if person.email != organizer_email:
            event.add("attendee", _address(person, "REQ-PARTICIPANT"))
    calendar.add_component(event)
    return calendar.to_ical()


def proposal_from_payload(payload: Mapping[str, Any], recipient: Participant, *,
                          now: datetime | None = None) -> tuple[str, str, bytes] | None:
    """The invitation to attach to a notification whose meeting was only proposed: (filename, type, bytes).

    None when the payload has no proposed meeting (nothing, or a calendar event that already invited them).
    Built from the notification's own payload (program name, partners, the meeting), as the email goes out.
    """
    meeting = payload.get("meeting") or {}
    if not meeting.get("start") or not meeting.get("end") or meeting.get("booked"):
        return None
    try:
        start, end = datetime.fromisoformat(str(meeting["start"])), datetime.fromisoformat(str(meeting["end"]))
        partners = [Participant(f"partner-{n}", str(p.get("email", "")), str(p.get("name", "")))
                    for n, p in enumerate(payload.get("partners") or []) if p.get("email")]
        program = Program(str(payload.get("program_id") or "program"), str(payload.get("program") or "peer coaching"),
                          ProgramKind.PEER_PAIRS, Cadence.WEEKLY)
        content = build_invitation(
            program, Meeting(str(payload.get("match_id", "")), MeetingStatus.SCHEDULED, start, end,
                             str(meeting.get("join_url") or "")),
            recipient, [recipient, *partners], now=now)
    except (ValueError, TypeError):
        return None
    return ICS_FILENAME, ics_content_type(), content
