"""Slot finding: time zones, DST weeks, midnight, buffers, preferences and load spreading."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from teams_app.domain.errors import InvalidInput
from teams_app.domain.model import Cadence, Participant, Profile, Program, ProgramKind, WorkingHours
from teams_app.domain.scheduling import (
    Interval,
    NoSlot,
    Slot,
    SlotPreferences,
    SlotRequest,
    find_slot,
    intersect,
    plan_round,
    subtract,
    window_bounds,
    working_intervals,
)


def person(email: str, zone: str, hours: str = "09:00-17:00", days: frozenset[int] | None = None) -> Participant:
    wh = WorkingHours.parse(hours)
    if days is not None:
        wh = WorkingHours(wh.start, wh.end, days)
    profile = Profile.build(time_zone=zone, working_hours=wh)
    return Participant.create(email, email.split("@")[0].title(), profile=profile)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


PREFS = SlotPreferences(duration=timedelta(minutes=30))


def test_no_overlap_between_los_angeles_and_kolkata_gives_no_slot_not_a_3am_meeting() -> None:
    a = person("ann@x.org", "America/Los_Angeles")
    b = person("bala@x.org", "Asia/Kolkata")
    result = find_slot(SlotRequest("m1", [a, b]), window_bounds(date(2026, 3, 2), date(2026, 3, 6)), PREFS)
    assert isinstance(result, NoSlot)
    assert "working hours never overlap" in result.reason
    assert "America/Los_Angeles" in result.reason and "Asia/Kolkata" in result.reason


def test_earliest_common_slot_within_both_working_days() -> None:
    a = person("ann@x.org", "Europe/Berlin")  # 08:00-16:00 UTC in winter
    b = person("ben@x.org", "America/New_York")  # 14:00-22:00 UTC in winter
    result = find_slot(SlotRequest("m1", [a, b]), window_bounds(date(2026, 1, 12), date(2026, 1, 16)), PREFS)
    assert result == Slot(utc(2026, 1, 12, 14, 0), utc(2026, 1, 12, 14, 30))


def test_busy_time_and_buffer_push_the_slot_later() -> None:
    a = person("ann@x.org", "UTC")
    b = person("ben@x.org", "UTC")
    busy = {"ann@x.org": [Interval(utc(2026, 1, 12, 9), utc(2026, 1, 12, 10))],
            "ben@x.org": [Interval(utc(2026, 1, 12, 10, 15), utc(2026, 1, 12, 11))]}
    request = SlotRequest("m1", [a, b], busy)
    window = window_bounds(date(2026, 1, 12), date(2026, 1, 12))
    assert find_slot(request, window, PREFS) == Slot(utc(2026, 1, 12, 11), utc(2026, 1, 12, 11, 30))
    buffered = SlotPreferences(duration=timedelta(minutes=30), buffer=timedelta(minutes=15))
    assert find_slot(request, window, buffered) == Slot(utc(2026, 1, 12, 11, 15), utc(2026, 1, 12, 11, 45))


def test_dst_week_moves_working_hours_in_utc() -> None:
    # US clocks change on 8 March 2026, Europe's on 29 March: for three weeks the overlap is one hour longer.
    ny = person("ny@x.org", "America/New_York")
    before = working_intervals(ny, window_bounds(date(2026, 3, 6), date(2026, 3, 6)))
    after = working_intervals(ny, window_bounds(date(2026, 3, 9), date(2026, 3, 9)))
    assert before == [Interval(utc(2026, 3, 6, 14), utc(2026, 3, 6, 22))]
    assert after == [Interval(utc(2026, 3, 9, 13), utc(2026, 3, 9, 21))]
    berlin = person("be@x.org", "Europe/Berlin", "09:00-15:00")  # 08:00-14:00 UTC until 29 March
    window = window_bounds(date(2026, 3, 2), date(2026, 3, 13))
    busy_monday_to_friday_week1 = {"be@x.org": [Interval(utc(2026, 3, 2), utc(2026, 3, 7))]}
    result = find_slot(SlotRequest("m", [ny, berlin], busy_monday_to_friday_week1), window,
                       SlotPreferences(duration=timedelta(minutes=60)))
    # After the US change New York starts 13:00 UTC, leaving 13:00-14:00 UTC with Berlin.
    assert result == Slot(utc(2026, 3, 9, 13), utc(2026, 3, 9, 14))


def test_dst_day_itself_keeps_local_working_hours() -> None:
    berlin = person("be@x.org", "Europe/Berlin", days=frozenset(range(7)))
    sunday = working_intervals(berlin, window_bounds(date(2026, 3, 29), date(2026, 3, 29)))
    saturday = working_intervals(berlin, window_bounds(date(2026, 3, 28), date(2026, 3, 28)))
    assert saturday == [Interval(utc(2026, 3, 28, 8), utc(2026, 3, 28, 16))]
    assert sunday == [Interval(utc(2026, 3, 29, 7), utc(2026, 3, 29, 15))]


def test_slot_straddling_midnight_utc_is_found() -> None:
    # Sydney 09:00-17:00 AEDT is 22:00-06:00 UTC; a night-shift worker in London 22:00-06:00 shares all of it.
    sydney = person("syd@x.org", "Australia/Sydney")
    night = person("night@x.org", "Europe/London", "22:00-06:00", days=frozenset(range(7)))
    busy = {"syd@x.org": [Interval(utc(2026, 1, 11, 22), utc(2026, 1, 11, 23, 45))]}
    result = find_slot(SlotRequest("m", [sydney, night], busy), window_bounds(date(2026, 1, 11), date(2026, 1, 12)),
                       SlotPreferences(duration=timedelta(minutes=30)))
    assert result == Slot(utc(2026, 1, 11, 23, 45), utc(2026, 1, 12, 0, 15))
    assert result.start.astimezone(ZoneInfo("Australia/Sydney")).date() == date(2026, 1, 12)


def test_overnight_working_hours_cross_local_midnight() -> None:
    night = person("night@x.org", "Europe/London", "22:00-06:00", days=frozenset({0}))
    intervals = working_intervals(night, window_bounds(date(2026, 1, 12), date(2026, 1, 13)))
    assert intervals == [Interval(utc(2026, 1, 12, 22), utc(2026, 1, 13, 6))]


def test_preferred_hours_tried_first_then_whole_day() -> None:
    a, b = person("a@x.org", "UTC"), person("b@x.org", "UTC")
    prefs = SlotPreferences(duration=timedelta(minutes=30), preferred_hours=WorkingHours.parse("14:00-16:00"),
                            preferred_days=frozenset({2}))
    window = window_bounds(date(2026, 1, 12), date(2026, 1, 16))
    assert find_slot(SlotRequest("m", [a, b]), window, prefs) == Slot(utc(2026, 1, 14, 14), utc(2026, 1, 14, 14, 30))
    busy = {"a@x.org": [Interval(utc(2026, 1, 14, 14), utc(2026, 1, 14, 16))]}
    fallback = find_slot(SlotRequest("m", [a, b], busy), window, prefs)
    assert fallback == Slot(utc(2026, 1, 12, 9), utc(2026, 1, 12, 9, 30), preferred=False)


def test_not_before_skips_past_slots() -> None:
    a, b = person("a@x.org", "UTC"), person("b@x.org", "UTC")
    result = find_slot(SlotRequest("m", [a, b]), window_bounds(date(2026, 1, 12), date(2026, 1, 12)), PREFS,
                       not_before=utc(2026, 1, 12, 10, 5))
    assert isinstance(result, Slot) and result.start == utc(2026, 1, 12, 10, 15)


def test_full_calendars_explained_differently_from_time_zones() -> None:
    a, b = person("a@x.org", "UTC"), person("b@x.org", "UTC")
    busy = {"a@x.org": [Interval(utc(2026, 1, 12), utc(2026, 1, 13))]}
    result = find_slot(SlotRequest("m", [a, b], busy), window_bounds(date(2026, 1, 12), date(2026, 1, 12)), PREFS)
    assert isinstance(result, NoSlot) and "calendars have no free 30-minute slot" in result.reason


def test_round_spreads_meetings_over_shared_hours() -> None:
    requests = [SlotRequest(f"m{i}", [person(f"a{i}@x.org", "UTC"), person(f"b{i}@x.org", "UTC")])
                for i in range(16)]
    plan = plan_round(requests, window_bounds(date(2026, 1, 12), date(2026, 1, 12)), PREFS)
    starts = [r.start for r in plan.values() if isinstance(r, Slot)]
    assert len(starts) == 16
    per_hour = Counter(s.hour for s in starts)
    assert max(per_hour.values()) == 2  # 16 matches over 8 shared hours
    assert len(per_hour) == 8


def test_round_places_constrained_match_before_flexible_ones() -> None:
    flexible = [SlotRequest(f"f{i}", [person(f"a{i}@x.org", "UTC"), person(f"b{i}@x.org", "UTC")]) for i in range(3)]
    tight = SlotRequest("tight", [person("t1@x.org", "UTC", "09:00-10:00"), person("t2@x.org", "UTC", "09:00-10:00")])
    plan = plan_round([*flexible, tight], window_bounds(date(2026, 1, 12), date(2026, 1, 12)), PREFS)
    assert plan["tight"] == Slot(utc(2026, 1, 12, 9), utc(2026, 1, 12, 9, 30))


def test_interval_algebra() -> None:
    day = [Interval(utc(2026, 1, 1, 9), utc(2026, 1, 1, 17))]
    busy = [Interval(utc(2026, 1, 1, 10), utc(2026, 1, 1, 11)), Interval(utc(2026, 1, 1, 10, 30), utc(2026, 1, 1, 12))]
    assert subtract(day, busy) == [Interval(utc(2026, 1, 1, 9), utc(2026, 1, 1, 10)),
                                   Interval(utc(2026, 1, 1, 12), utc(2026, 1, 1, 17))]
    assert intersect(day, busy) == [Interval(utc(2026, 1, 1, 10), utc(2026, 1, 1, 12))]


def test_program_validates_scheduling_preferences() -> None:
    program = Program.create("P", ProgramKind.PEER_PAIRS, Cadence.WEEKLY, buffer_minutes=10,
                             preferred_days=(1, 3), preferred_hours="10:00-12:00")
    prefs = SlotPreferences.from_program(program)
    assert prefs.buffer == timedelta(minutes=10) and prefs.preferred_days == frozenset({1, 3})
    assert prefs.preferred_hours == WorkingHours(time(10), time(12))
    with pytest.raises(InvalidInput) as err:
        program.with_changes(preferred_hours="noon")
    assert err.value.field == "preferred_hours"
    with pytest.raises(InvalidInput):
        program.with_changes(preferred_days=(7,))
    with pytest.raises(ValueError):
        window_bounds(date(2026, 1, 2), date(2026, 1, 1))


def test_scheduling_preferences_survive_the_program_json_settings_round_trip() -> None:
    import json
    from types import SimpleNamespace

    from teams_app.adapters.db.repositories import program_from_row, program_to_row

    program = Program.create("P", ProgramKind.PEER_PAIRS, Cadence.WEEKLY, buffer_minutes=5, preferred_days=(0, 2),
                             preferred_hours="13:00-15:00")
    row = program_to_row(program)
    row["settings"] = json.loads(json.dumps(row["settings"]))
    assert program_from_row(SimpleNamespace(**row)) == program
