"""Card and command words (pure): booked vs proposed in the reader's zone, choice inputs, German commands."""

from __future__ import annotations

from datetime import UTC, datetime

from teams_app.adapters.bot import cards
from teams_app.adapters.bot.commands import parse, pause_until
from teams_app.domain.model import Meeting, MeetingStatus
from teams_app.domain.notifications import CardState, NotificationKind, card_state_after
from teams_app.i18n import translator

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def payload(booked: bool, time_zone: str = "Europe/Berlin", locale: str = "de-DE") -> dict[str, object]:
    return {"match_id": "m1", "program": "Paare", "round": 1, "role": "peer", "partners": [{"name": "Megan"}],
            "meeting": {"start": START.isoformat(), "end": START.replace(hour=9).isoformat(), "booked": booked},
            "reader": {"time_zone": time_zone, "locale": locale}}


def test_a_proposed_time_is_never_called_booked_and_shows_in_the_readers_zone() -> None:
    de = translator("de")
    line = cards.meeting_line(de, payload(booked=False))
    assert "Vorgeschlagener Termin" in line and "gebucht:" not in line.split(".")[0]
    assert "09:00" in line and "Mitteleuropäische Normalzeit" in line and "UTC" not in line
    _subject, text = cards.notification_text(translator("en"), NotificationKind.MEETING_UPDATE,
                                             payload(booked=False, time_zone="America/New_York", locale="en-US"))
    assert "Proposed time" in text and "booked for" not in text and "3:00" in text and "Eastern" in text
    _subject, text = cards.notification_text(translator("en"), NotificationKind.MEETING_UPDATE,
                                             payload(booked=True, locale="en-US"))
    assert "is booked for" in text and "Central European" in text


def test_only_a_calendar_event_counts_as_booked() -> None:
    proposal = Meeting("m1", MeetingStatus.SCHEDULED, START, START, external_id="m1@peercoach")
    graph = Meeting("m1", MeetingStatus.SCHEDULED, START, START, external_id="AAMkAGraph")
    assert not proposal.booked and graph.booked and not graph.call_off("x").booked


def test_card_states_only_move_forward() -> None:
    assert card_state_after(None, CardState.INTRO) is CardState.INTRO
    assert card_state_after(CardState.CHECKIN_OPEN, CardState.INTRO) is CardState.CHECKIN_OPEN
    assert card_state_after(CardState.CHECKED_IN, CardState.CANCELLED) is CardState.CHECKED_IN
    assert card_state_after(CardState.INTRO, CardState.CHECKIN_OPEN) is CardState.CHECKIN_OPEN
    en = translator("en")
    assert cards.verbs_of(cards.state_card(en, CardState.INTRO, payload(True))) == [
        cards.VERB_MET, cards.VERB_RESCHEDULE, cards.VERB_CANCEL]
    assert cards.verbs_of(cards.state_card(en, CardState.CHECKIN_OPEN, payload(True))) == [cards.VERB_CHECKIN]
    for final in (CardState.CHECKED_IN, CardState.CANCELLED, CardState.RESCHEDULING):
        assert cards.verbs_of(cards.state_card(en, final, payload(True))) == []


def test_usefulness_is_a_choice_and_required_inputs_explain_themselves() -> None:
    en = translator("en")
    form = cards.checkin_card(en, "m1")
    usefulness = next(e for e in form["body"] if e.get("id") == "usefulness")
    assert usefulness["type"] == "Input.ChoiceSet" and [c["value"] for c in usefulness["choices"]] == [
        "1", "2", "3", "4", "5"]
    profile = cards.profile_card(en, {}, programs=[("p1", "Pairs")], local_time_zone="Asia/Kolkata")
    inputs = {e["id"]: e for e in profile["body"] if "id" in e}
    zone = inputs["time_zone"]
    assert zone["type"] == "Input.ChoiceSet" and zone["style"] == "filtered" and zone["value"] == "Asia/Kolkata"
    assert "IANA" not in str(profile)
    for required in ("time_zone", "working_hours", "languages"):
        assert inputs[required]["isRequired"] and inputs[required]["errorMessage"]
    # The profile's own zone wins over the client's; an unusual one is still offered.
    again = cards.profile_card(en, {"time_zone": "Pacific/Chatham"}, local_time_zone="Asia/Kolkata")
    zone = next(e for e in again["body"] if e.get("id") == "time_zone")
    assert zone["value"] == "Pacific/Chatham" and "Pacific/Chatham" in [c["value"] for c in zone["choices"]]


def test_a_refused_profile_keeps_the_values_and_names_the_field() -> None:
    en = translator("en")
    data = {"time_zone": "Mars/Olympus", "working_hours": "9-5", "languages": "en", "department": "Ops"}
    try:
        cards.parse_profile(en, data, ["p1"])
    except cards.CardErrors as exc:
        assert "Mars/Olympus" in exc.errors["time_zone"] and "IANA" not in exc.errors["time_zone"]
        assert exc.values["department"] == "Ops"
    else:
        raise AssertionError("a wrong time zone was accepted")


def test_german_commands_and_help_in_german() -> None:
    assert parse("hilfe").name == "help"
    assert parse("Meine Matches").name == "my matches"
    assert parse("fortsetzen").name == "resume"
    assert parse("pause bis 2026-12-24").name == "pause"
    assert pause_until(parse("pause bis 2026-12-24").args) == datetime(2026, 12, 24).date()
    assert parse("beitreten").name == "join" and parse("profil").name == "profile"
    assert parse("verlassen").name == "leave" and parse("fortschritt").name == "progress"
    assert parse("my matches").name == "my matches"  # English still works
    help_de = cards.help_text(translator("de"), admin=False)
    for word in ("hilfe", "beitreten", "fortsetzen", "meine matches", "fortschritt"):
        assert f"**{word}" in help_de
        assert parse(word).name  # every word the German help lists is understood


def test_plurals_round_numbers_and_program_words() -> None:
    en = translator("en")
    one = cards.notification_text(en, NotificationKind.ANNOUNCEMENT, {"program": "P", "round": 1, "matches": 1})[1]
    assert "1 match:" in one and "1 matches" not in one
    assert "2 matches" in cards.notification_text(en, NotificationKind.ANNOUNCEMENT,
                                                  {"program": "P", "round": 1, "matches": 2})[1]
    title = cards.intro_card(en, {"program": "P", "round": 0})["body"][0]["text"]
    assert "Round 0" not in title
    assert cards.program_words(en, "peer_pairs", "fortnightly") == "peer coaching in pairs, every two weeks"
    assert cards.program_words(translator("de"), "circle", "weekly") == "Lernkreise, jede Woche"
