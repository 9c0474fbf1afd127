"""Hard constraints: the rules a match may never break.

Two people may be matched only if they share a language (when the program requires it), have at least
``min_overlap_hours`` of shared working time, are not a manager and their direct report, and neither
blocked the other (an admin "forbid" lock is recorded as a block). Admin "force" locks are handled by the
engine; they never override these rules.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from teams_app.domain.matching.types import MatchHistory
from teams_app.domain.model import Participant, Program, WorkingHours

_UTC = ZoneInfo("UTC")
EPSILON_HOURS = 1e-9  # float slack so exactly H hours of overlap counts as enough


def working_interval_utc(participant: Participant, day: date) -> tuple[datetime, datetime]:
    """The person's working hours on ``day`` (their local calendar day) as an aware UTC interval."""
    profile = participant.profile
    return _interval(profile.time_zone, profile.working_hours, day)


@lru_cache(maxsize=4096)
def _interval(time_zone: str, hours: WorkingHours, day: date) -> tuple[datetime, datetime]:
    zone = ZoneInfo(time_zone)
    start = datetime.combine(day, hours.start, zone)
    end = start + timedelta(hours=hours.hours)
    return start.astimezone(_UTC), end.astimezone(_UTC)


def day_windows(participant: Participant, day: date) -> tuple[tuple[float, float], ...]:
    """Working intervals on the day before, the day itself and the day after, in hours from ``day`` 00:00 UTC."""
    return _windows(participant.profile.time_zone, participant.profile.working_hours, day)


@lru_cache(maxsize=4096)
def _windows(time_zone: str, hours: WorkingHours, day: date) -> tuple[tuple[float, float], ...]:
    origin = datetime.combine(day, datetime.min.time(), _UTC)
    out = []
    for shift in (-1, 0, 1):
        start, end = _interval(time_zone, hours, day + timedelta(days=shift))
        out.append(((start - origin).total_seconds() / 3600, (end - origin).total_seconds() / 3600))
    return tuple(out)


def windows_overlap(a: tuple[tuple[float, float], ...], b: tuple[tuple[float, float], ...]) -> float:
    """Best overlap of one person's working day with the other's previous, same or next day (symmetric)."""
    best = 0.0
    for mine, theirs in ((a[1], b), (b[1], a)):
        for other in theirs:
            best = max(best, min(mine[1], other[1]) - max(mine[0], other[0]))
    return best


def overlap_hours(a: Participant, b: Participant, day: date) -> float:
    """Hours of shared working time around ``day``; neighbouring local days count, so it wraps midnight."""
    return windows_overlap(day_windows(a, day), day_windows(b, day))


def hard_conflict(a: Participant, b: Participant, program: Program, history: MatchHistory,
                  day: date) -> str | None:
    """Why ``a`` and ``b`` may never be matched, or None."""
    if a.id == b.id:
        return "same person"
    if frozenset((a.id, b.id)) in history.blocked:
        return "blocked"
    if _reports_to(a, b) or _reports_to(b, a):
        return "manager and direct report"
    if program.policy.require_shared_language and not (
            {lang.casefold() for lang in a.profile.languages} & {lang.casefold() for lang in b.profile.languages}):
        return "no shared language"
    if overlap_hours(a, b, day) + EPSILON_HOURS < program.policy.min_overlap_hours:
        return "too little shared working time"
    return None


def _reports_to(person: Participant, boss: Participant) -> bool:
    return bool(person.manager_email) and person.manager_email.casefold() == boss.email.casefold()
