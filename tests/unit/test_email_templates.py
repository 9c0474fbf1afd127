"""render_email and the ICS builder: every kind, locales, links back to the bot, bad input."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from icalendar import Calendar

from teams_app.adapters.email import KINDS, build_invitation, render_email, teams_app_link, teams_chat_link
from teams_app.domain.model import Meeting, MeetingStatus, Participant, Program

BASE = {"name": "Ann", "program": "Pilot", "partners": ["Ben", "Cleo"], "bot_app_id": "bot-123"}
START = datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_subject_html_text_and_bot_link(kind: str) -> None:
    payload = {**BASE, "meeting_start": START, "people": [{"name": "Ben", "meetings": 2, "check_ins": 1}]}
    subject, html, text = render_email(kind, payload, "en")
    assert subject.startswith("Pilot")
    assert "https://teams.microsoft.com/l/chat/0/0?users=28:bot-123" in text
    assert 'href="https://teams.microsoft.com/l/chat/0/0?users=28:bot-123"' in html
    assert html.startswith("<!DOCTYPE html>") and "Hi Ann," in text


def test_intro_shows_meeting_time_in_the_persons_zone_and_join_link() -> None:
    subject, _, text = render_email("intro", {**BASE, "meeting_start": START, "time_zone": "Europe/Berlin",
                                              "join_url": "https://teams.microsoft.com/l/meetup-join/1"}, "en")
    assert subject == "Pilot: meet Ben and Cleo"
    assert "Monday, March 30, 2026 9:00\u202fAM (Central European Summer Time)" in text  # CEST began the day before
    assert "Join the Teams meeting: https://teams.microsoft.com/l/meetup-join/1" in text


def test_intro_without_slot_explains_why() -> None:
    _, _, text = render_email("intro", {**BASE, "no_slot_detail": "Your working hours never overlap."}, "en")
    assert "We could not book a meeting for you: Your working hours never overlap." in text


def test_german_locale_and_fallback_for_unknown_locale() -> None:
    subject, _, text = render_email("assessment", {**BASE, "due": date(2026, 4, 3)}, "de-DE")
    assert subject == "Pilot: eine kurze Peer-Einschätzung" and "3. April 2026" in text
    subject, _, _ = render_email("check_in", BASE, "xx-unknown")
    assert subject == "Pilot: how did it go with Ben and Cleo?"


def test_html_escapes_names() -> None:
    _, html, _ = render_email("check_in", {**BASE, "name": "<script>x</script>"}, "en")
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_app_deep_link_when_no_bot_id() -> None:
    payload = {k: v for k, v in BASE.items() if k != "bot_app_id"} | {"teams_app_id": "app-9"}
    _, _, text = render_email("check_in", payload, "en")
    assert teams_app_link("app-9") in text and teams_chat_link("x").endswith("28:x")


def test_missing_payload_and_unknown_kind_are_named() -> None:
    with pytest.raises(ValueError, match="'partners'"):
        render_email("intro", {"name": "Ann", "program": "Pilot", "bot_app_id": "b"})
    with pytest.raises(ValueError, match="bot_app_id"):
        render_email("check_in", {"name": "Ann", "program": "Pilot", "partners": "Ben"})
    with pytest.raises(ValueError, match="unknown email kind"):
        render_email("spam", BASE)
    with pytest.raises(ValueError, match="meeting_start"):
        render_email("reminder", BASE)


def test_cancelled_meeting_gives_cancel_invitation_with_same_uid() -> None:
    program = Program.create("Pilot", "peer_pairs", "weekly")
    ann, ben = Participant.create("ann@x.org", "Ann"), Participant.create("ben@x.org", "Ben")
    meeting = Meeting("m-1", MeetingStatus.CANCELLED, START, START.replace(hour=8))
    calendar = Calendar.from_ical(build_invitation(program, meeting, "coaching@x.org", [ann, ben], sequence=2))
    [event] = calendar.walk("VEVENT")
    assert str(calendar["METHOD"]) == "CANCEL" and str(event["STATUS"]) == "CANCELLED"
    assert str(event["UID"]) == "m-1@peercoach" and int(event["SEQUENCE"]) == 2
    assert len(event["ATTENDEE"]) == 2


def test_invitation_needs_aware_ordered_times() -> None:
    program = Program.create("Pilot", "peer_pairs", "weekly")
    ann = Participant.create("ann@x.org", "Ann")
    with pytest.raises(ValueError, match="start and end"):
        build_invitation(program, Meeting("m", MeetingStatus.SCHEDULED), ann, [ann])
    with pytest.raises(ValueError, match="timezone-aware"):
        build_invitation(program, Meeting("m", MeetingStatus.SCHEDULED, datetime(2026, 1, 1),
                                          datetime(2026, 1, 1, 1)), ann, [ann])
    with pytest.raises(ValueError, match="end after"):
        build_invitation(program, Meeting("m", MeetingStatus.SCHEDULED, START, START), ann, [ann])
