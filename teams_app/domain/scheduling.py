"""Finding a common meeting slot: pure time arithmetic, no I/O.

Everything is computed on aware UTC datetimes. Each person's working hours are expanded day by day in
their own IANA zone (so a DST change week moves the UTC interval, and a 22:00-06:00 shift crosses
midnight), their busy time (from Graph getSchedule) is removed after widening it by the program's buffer,
and the remaining intervals of all members are intersected. Slots start on a fixed grid (quarter hours)
so invitations look like a human picked them.

Choice of slot, in order:
1. the program's preferred days/hours (in each person's own zone) are tried first, then the whole
   working day, so a preference never turns a possible meeting into "no common slot";
2. the earliest slot wins, except that one round spreads its meetings: :func:`plan_round` computes how
   many meetings may start in the same UTC hour (total / distinct hours anyone could use) and moves a
   match to its next possible hour when the earliest one is full. The most constrained matches go first.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from teams_app.domain.model import Participant, Program, WorkingHours

GRID = timedelta(minutes=15)


@dataclass(frozen=True, order=True)
class Interval:
    start: datetime
    end: datetime

    @property
    def length(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True)
class SlotPreferences:
    duration: timedelta
    buffer: timedelta = timedelta(0)
    preferred_days: frozenset[int] = frozenset()  # local weekdays; empty: any working day
    preferred_hours: WorkingHours | None = None  # local window tried first
    grid: timedelta = GRID

    @staticmethod
    def from_program(program: Program) -> SlotPreferences:
        hours = WorkingHours.parse(program.preferred_hours) if program.preferred_hours else None
        return SlotPreferences(
            duration=timedelta(minutes=program.meeting_minutes),
            buffer=timedelta(minutes=program.buffer_minutes),
            preferred_days=frozenset(program.preferred_days),
            preferred_hours=hours,
        )


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    preferred: bool = True  # False when only the fallback (whole working day) had room


@dataclass(frozen=True)
class NoSlot:
    reason: str  # plain words, shown to the people in the match


@dataclass(frozen=True)
class SlotRequest:
    """One match to place: its members and each member's busy intervals (UTC)."""

    key: str
    members: Sequence[Participant]
    busy: Mapping[str, Sequence[Interval]] = field(default_factory=dict)  # by participant email


def window_bounds(window_start: date, window_end: date) -> Interval:
    """The UTC interval covering the calendar days window_start..window_end inclusive."""
    if window_end < window_start:
        raise ValueError("window_end is before window_start")
    start = datetime.combine(window_start, time(0), UTC)
    return Interval(start, datetime.combine(window_end + timedelta(days=1), time(0), UTC))


def _local_intervals(zone_name: str, hours: WorkingHours, days: Iterable[int], window: Interval) -> list[Interval]:
    """Intervals of ``hours`` on the given local weekdays, in UTC, clipped to ``window``."""
    zone = ZoneInfo(zone_name)
    allowed = frozenset(days)
    length = timedelta(hours=hours.hours)
    first = window.start.astimezone(zone).date() - timedelta(days=1)
    last = window.end.astimezone(zone).date()
    out: list[Interval] = []
    day = first
    while day <= last:
        if day.weekday() in allowed:
            local_start = datetime.combine(day, hours.start, zone)
            # Same-zone aware arithmetic is wall-clock: 09:00 + 8h is 17:00 local even on a DST day.
            local_end = local_start + length
            start = local_start.astimezone(UTC)
            end = local_end.astimezone(UTC)
            start, end = max(start, window.start), min(end, window.end)
            if start < end:
                out.append(Interval(start, end))
        day += timedelta(days=1)
    return out


def working_intervals(person: Participant, window: Interval) -> list[Interval]:
    profile = person.profile
    return _local_intervals(profile.time_zone, profile.working_hours, profile.working_hours.days, window)


def preferred_intervals(person: Participant, window: Interval, prefs: SlotPreferences) -> list[Interval]:
    """Working time narrowed to the program's preferred local days and hours."""
    profile = person.profile
    working = working_intervals(person, window)
    days = profile.working_hours.days & prefs.preferred_days if prefs.preferred_days else profile.working_hours.days
    hours = prefs.preferred_hours or profile.working_hours
    return intersect(working, _local_intervals(profile.time_zone, hours, days, window))


def normalize(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, with overlapping or touching intervals merged."""
    out: list[Interval] = []
    for item in sorted(i for i in intervals if i.start < i.end):
        if out and item.start <= out[-1].end:
            if item.end > out[-1].end:
                out[-1] = Interval(out[-1].start, item.end)
        else:
            out.append(item)
    return out


def intersect(a: Iterable[Interval], b: Iterable[Interval]) -> list[Interval]:
    left, right = normalize(a), normalize(b)
    out: list[Interval] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i].start, right[j].start)
        end = min(left[i].end, right[j].end)
        if start < end:
            out.append(Interval(start, end))
        if left[i].end < right[j].end:
            i += 1
        else:
            j += 1
    return out


def subtract(free: Iterable[Interval], busy: Iterable[Interval]) -> list[Interval]:
    out: list[Interval] = []
    blocks = normalize(busy)
    for item in normalize(free):
        cursor = item.start
        for block in blocks:
            if block.end <= cursor or block.start >= item.end:
                continue
            if block.start > cursor:
                out.append(Interval(cursor, block.start))
            cursor = max(cursor, block.end)
        if cursor < item.end:
            out.append(Interval(cursor, item.end))
    return out


def common_free(request: SlotRequest, window: Interval, prefs: SlotPreferences, *, preferred: bool) -> list[Interval]:
    """Time every member has free (busy widened by the buffer) within their (preferred) working hours."""
    common: list[Interval] | None = None
    for person in request.members:
        base = preferred_intervals(person, window, prefs) if preferred else working_intervals(person, window)
        busy = [Interval(b.start - prefs.buffer, b.end + prefs.buffer) for b in request.busy.get(person.email, ())]
        free = subtract(base, busy)
        common = free if common is None else intersect(common, free)
        if not common:
            return []
    return common or []


def candidate_starts(free: Sequence[Interval], duration: timedelta, grid: timedelta = GRID) -> Iterator[datetime]:
    """Grid-aligned start times where a meeting of ``duration`` fits inside one free interval."""
    step = int(grid.total_seconds())
    for item in free:
        seconds = math.ceil(item.start.timestamp() / step) * step
        start = datetime.fromtimestamp(seconds, UTC)
        while start + duration <= item.end:
            yield start
            start += grid


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def explain_no_slot(request: SlotRequest, window: Interval, prefs: SlotPreferences) -> str:
    """Say in plain words why nothing fits: time zones/working hours, or full calendars."""
    shared: list[Interval] | None = None
    for person in request.members:
        mine = working_intervals(person, window)
        shared = mine if shared is None else intersect(shared, mine)
    minutes = int(prefs.duration.total_seconds() // 60)
    if not shared or all(i.length < prefs.duration for i in shared):
        who = "; ".join(
            f"{p.display_name} works {p.profile.working_hours} {p.profile.time_zone}" for p in request.members
        )
        return (f"Your working hours never overlap for {minutes} minutes between {window.start:%d %b} and "
                f"{(window.end - timedelta(days=1)):%d %b} ({who}), so we did not book a meeting outside "
                "someone's working day.")
    return (f"Your calendars have no free {minutes}-minute slot in the working hours you share between "
            f"{window.start:%d %b} and {(window.end - timedelta(days=1)):%d %b}.")


def options_for(request: SlotRequest, window: Interval, prefs: SlotPreferences,
                not_before: datetime | None = None) -> tuple[list[datetime], bool]:
    """Candidate starts (preferred pass first; fallback pass when the preferred one is empty)."""
    for preferred in (True, False):
        if not preferred and not (prefs.preferred_days or prefs.preferred_hours):
            break  # the fallback pass would repeat the first one
        free = common_free(request, window, prefs, preferred=preferred)
        starts = [s for s in candidate_starts(free, prefs.duration, prefs.grid)
                  if not_before is None or s >= not_before]
        if starts:
            return starts, preferred
    return [], True


def find_slot(request: SlotRequest, window: Interval, prefs: SlotPreferences,
              not_before: datetime | None = None) -> Slot | NoSlot:
    """The earliest good slot for one match."""
    return plan_round([request], window, prefs, not_before)[request.key]


def plan_round(requests: Sequence[SlotRequest], window: Interval, prefs: SlotPreferences,
               not_before: datetime | None = None,
               existing_load: Mapping[datetime, int] | None = None) -> dict[str, Slot | NoSlot]:
    """Place every match of a round: earliest slot, but at most ``cap`` meetings starting in one UTC hour.

    ``cap`` is the number of matches divided by the number of distinct hours any match could use, so
    meetings are spread evenly over the hours people actually share; a match whose hours are all full
    takes its least loaded hour.
    """
    options: dict[str, tuple[list[datetime], bool]] = {}
    hours: set[datetime] = set()
    for request in requests:
        starts, preferred = options_for(request, window, prefs, not_before)
        options[request.key] = (starts, preferred)
        hours.update(_hour(s) for s in starts)
    placeable = sum(1 for starts, _ in options.values() if starts)
    cap = max(1, math.ceil(placeable / max(1, len(hours))))
    load: Counter[datetime] = Counter(existing_load or {})
    result: dict[str, Slot | NoSlot] = {}
    # Most constrained first, then input order (stable, so the plan is reproducible).
    order = sorted(range(len(requests)), key=lambda i: (len({_hour(s) for s in options[requests[i].key][0]}), i))
    for index in order:
        request = requests[index]
        starts, preferred = options[request.key]
        if not starts:
            result[request.key] = NoSlot(explain_no_slot(request, window, prefs))
            continue
        chosen = next((s for s in starts if load[_hour(s)] < cap), None)
        if chosen is None:
            chosen = min(starts, key=lambda s: (load[_hour(s)], s))
        load[_hour(chosen)] += 1
        result[request.key] = Slot(chosen, chosen + prefs.duration, preferred)
    return result
