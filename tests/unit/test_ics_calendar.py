"""IcsCalendar: proposals from working hours when Graph is not configured."""

from __future__ import annotations

from datetime import UTC, date, datetime
from urllib.parse import parse_qs, urlsplit

from icalendar import Calendar

from teams_app.adapters.email import IcsCalendar, build_invitation, invitation_uid
from teams_app.domain.model import Match, MatchMember, MeetingStatus, Participant, Profile, Program, Role

PROGRAM = Program.create("Pilot", "mentoring", "weekly", program_id="p1")
NOW = datetime(2026, 1, 9, 12, tzinfo=UTC)  # Friday noon


def person(email: str, zone: str = "UTC") -> Participant:
    return Participant.create(email, email[0].upper(), participant_id=email, profile=Profile.build(time_zone=zone))


def match(a: Participant, b: Participant, roles: tuple[Role, Role] = (Role.MENTEE, Role.MENTOR)) -> Match:
    return Match(f"m-{a.id}-{b.id}", "r1", "p1", (MatchMember(a.id, roles[0]), MatchMember(b.id, roles[1])))


async def test_proposes_first_shared_working_hour_after_lead_time_with_mentor_as_organizer() -> None:
    cal = IcsCalendar(now=lambda: NOW)
    a, b = person("a@x.org", "Europe/Berlin"), person("b@x.org", "America/New_York")
    meeting = await cal.book(PROGRAM, match(a, b), [a, b], date(2026, 1, 12), date(2026, 1, 16))
    assert meeting.status is MeetingStatus.SCHEDULED
    assert meeting.start == datetime(2026, 1, 12, 14, tzinfo=UTC) and meeting.organizer == "b@x.org"
    assert meeting.external_id == invitation_uid(meeting.match_id)
    link = meeting.detail.split(": ")[-1]
    query = parse_qs(urlsplit(link).query)
    assert query["startTime"] == ["2026-01-12T14:00:00Z"] and query["attendees"] == ["a@x.org,b@x.org"]
    ics = Calendar.from_ical(build_invitation(PROGRAM, meeting, b, [a, b]))
    assert ics.walk("VEVENT")[0].decoded("DTSTART") == meeting.start


async def test_sequential_bookings_spread_and_impossible_pairs_get_no_slot() -> None:
    cal = IcsCalendar(now=lambda: NOW)
    starts = []
    for i in range(3):
        a, b = person(f"a{i}@x.org"), person(f"b{i}@x.org")
        starts.append((await cal.book(PROGRAM, match(a, b), [a, b], date(2026, 1, 12), date(2026, 1, 12))).start)
    assert len(set(starts)) == 3
    la, kol = person("la@x.org", "America/Los_Angeles"), person("k@x.org", "Asia/Kolkata")
    meeting = await cal.book(PROGRAM, match(la, kol), [la, kol], date(2026, 1, 12), date(2026, 1, 16))
    assert meeting.status is MeetingStatus.NO_COMMON_SLOT and "never overlap" in meeting.detail
    assert meeting.start is None
    await cal.cancel(meeting)  # nothing remote to undo
