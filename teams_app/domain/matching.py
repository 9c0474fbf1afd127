"""Forming the matches of a round: the one function :func:`plan_matches`, and the types around it.

This first matcher is greedy and correct rather than optimal: every eligible candidate ends up in exactly
one match (an odd person joins a trio), hard constraints hold, nobody meets someone from their last K
rounds while an alternative exists, and a seed makes it reproducible. A better engine can replace the body
of :func:`plan_matches` without touching the callers.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from teams_app.domain.model import MatchMember, Participant, Program, ProgramKind, Role, RolePreference

Pair = frozenset[str]


@dataclass(frozen=True)
class Candidate:
    participant: Participant
    priority: int = 0  # fairness credit from earlier rounds (trio, bye, weak match)

    @property
    def id(self) -> str:
        return self.participant.id


@dataclass(frozen=True)
class MatchHistory:
    """What earlier rounds and admins say about pairs."""

    rounds_ago: Mapping[Pair, int] = field(default_factory=dict)  # 1 = met in the previous round
    role_counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # person -> role -> times
    blocked: frozenset[Pair] = frozenset()  # someone blocked the other, or an admin forbade the pair
    forced: tuple[Pair, ...] = ()  # admin locks: these pairs must be matched together


@dataclass(frozen=True)
class ProposedMatch:
    members: tuple[MatchMember, ...]
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class MatchPlan:
    matches: tuple[ProposedMatch, ...]
    unmatched: tuple[tuple[str, str], ...] = ()  # (participant id, reason told to the person)
    quality: Mapping[str, float] = field(default_factory=dict)


def working_interval_utc(participant: Participant, day: date) -> tuple[datetime, datetime]:
    """The person's working hours on ``day`` (their local calendar day) as an aware UTC interval."""
    profile = participant.profile
    zone = ZoneInfo(profile.time_zone)
    start = datetime.combine(day, profile.working_hours.start, zone)
    end = start + timedelta(hours=profile.working_hours.hours)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def overlap_hours(a: Participant, b: Participant, day: date) -> float:
    """Hours of shared working time around ``day``, trying the neighbouring local days for wrap-around."""
    best = 0.0
    a_start, a_end = working_interval_utc(a, day)
    for shift in (-1, 0, 1):
        b_start, b_end = working_interval_utc(b, day + timedelta(days=shift))
        shared = (min(a_end, b_end) - max(a_start, b_start)).total_seconds() / 3600
        best = max(best, shared)
    return best


def hard_conflict(a: Participant, b: Participant, program: Program, history: MatchHistory,
                  day: date) -> str | None:
    """Why ``a`` and ``b`` may never be matched, or None."""
    if frozenset((a.id, b.id)) in history.blocked:
        return "blocked"
    if (a.manager_email and a.manager_email == b.email) or (b.manager_email and b.manager_email == a.email):
        return "manager and direct report"
    if program.policy.require_shared_language and not set(a.profile.languages) & set(b.profile.languages):
        return "no shared language"
    if overlap_hours(a, b, day) + 1e-9 < program.policy.min_overlap_hours:
        return "too little shared working time"
    return None


def pair_score(a: Participant, b: Participant, program: Program) -> tuple[float, list[str]]:
    """A simple, explainable score; the matching engine issue refines it."""
    policy = program.policy
    score, reasons = 0.0, []
    a_gets = [s for s in a.profile.skills_wanted if s.casefold() in {x.casefold() for x in b.profile.skills_offered}]
    b_gets = [s for s in b.profile.skills_wanted if s.casefold() in {x.casefold() for x in a.profile.skills_offered}]
    if a_gets:
        score += policy.weight_skills * len(a_gets)
        reasons.append(f"{b.display_name} offers {', '.join(a_gets)}, which {a.display_name} wants")
    if b_gets:
        score += policy.weight_skills * len(b_gets)
        reasons.append(f"{a.display_name} offers {', '.join(b_gets)}, which {b.display_name} wants")
    if a.profile.department and b.profile.department and a.profile.department != b.profile.department:
        score += policy.weight_cross_department
        reasons.append("different departments")
    if a.profile.location and b.profile.location and a.profile.location != b.profile.location:
        score += policy.weight_cross_location
        reasons.append("different locations")
    shared_goals = set(g.casefold() for g in a.profile.goals) & set(g.casefold() for g in b.profile.goals)
    if shared_goals:
        score += policy.weight_shared_goals * len(shared_goals)
        reasons.append("shared goals")
    return score, reasons


def plan_matches(program: Program, candidates: Sequence[Candidate], history: MatchHistory, seed: int,
                 today: date) -> MatchPlan:
    """Group ``candidates`` for one round of ``program``. Deterministic for the same inputs and seed."""
    rng = random.Random(seed)
    people = sorted(candidates, key=lambda c: c.id)
    rng.shuffle(people)
    people.sort(key=lambda c: -c.priority)  # stable: the shuffle breaks ties among equal priority
    if program.kind.is_group:
        return _plan_groups(program, people, history, today)
    return _plan_pairs(program, people, history, today)


def _recent(history: MatchHistory, a: str, b: str, k: int) -> int | None:
    ago = history.rounds_ago.get(frozenset((a, b)))
    return ago if ago is not None and ago <= k else None


def _plan_pairs(program: Program, people: list[Candidate], history: MatchHistory, today: date) -> MatchPlan:
    k = program.policy.history_rounds
    by_id = {c.id: c for c in people}
    taken: set[str] = set()
    groups: list[list[Candidate]] = []
    for pair in history.forced:
        a_id, b_id = sorted(pair)
        if a_id in by_id and b_id in by_id and a_id not in taken and b_id not in taken:
            groups.append([by_id[a_id], by_id[b_id]])
            taken.update((a_id, b_id))
    leftovers: list[Candidate] = []
    for index, person in enumerate(people):
        if person.id in taken:
            continue
        best: Candidate | None = None
        best_key: tuple[int, float] | None = None
        for other in people[index + 1:]:
            if other.id in taken or hard_conflict(person.participant, other.participant, program, history, today):
                continue
            ago = _recent(history, person.id, other.id, k)
            score, _ = pair_score(person.participant, other.participant, program)
            key = (0 if ago is None else -(k + 1 - ago), score)  # fresh pairs first, then the better score
            if best_key is None or key > best_key:
                best, best_key = other, key
            if ago is None and len(people) > 400 and score > 0:
                break  # large populations: the first fresh, useful partner is good enough for this matcher
        if best is None:
            leftovers.append(person)
            continue
        groups.append([person, best])
        taken.update((person.id, best.id))
    _repair_repeats(program, groups, history, today, len(history.forced))
    unmatched: list[tuple[str, str]] = []
    for person in leftovers:  # an odd person joins a trio rather than being dropped
        host = next((g for g in groups if len(g) == 2 and all(
            not hard_conflict(person.participant, m.participant, program, history, today) for m in g)), None)
        if host is None:
            unmatched.append((person.id, "nobody shares a language and enough working time with you this round"))
        else:
            host.append(person)
    matches = tuple(_finish(program, group, history) for group in groups)
    return MatchPlan(matches, tuple(unmatched), _quality(matches, len(people), unmatched))


def _repair_repeats(program: Program, groups: list[list[Candidate]], history: MatchHistory, today: date,
                   locked: int) -> None:
    """2-opt: swap partners between two pairs while that removes a recent repeat and keeps hard constraints."""
    k = program.policy.history_rounds

    def fresh(a: Candidate, b: Candidate) -> bool:
        return (_recent(history, a.id, b.id, k) is None
                and hard_conflict(a.participant, b.participant, program, history, today) is None)

    for _ in range(3):
        changed = False
        for i in range(locked, len(groups)):
            a, b = groups[i]
            if _recent(history, a.id, b.id, k) is None:
                continue
            for j in range(locked, len(groups)):
                if i == j:
                    continue
                c, d = groups[j]
                if fresh(a, c) and fresh(b, d):
                    groups[i], groups[j] = [a, c], [b, d]
                elif fresh(a, d) and fresh(b, c):
                    groups[i], groups[j] = [a, d], [b, c]
                else:
                    continue
                changed = True
                break
        if not changed:
            return


def _plan_groups(program: Program, people: list[Candidate], history: MatchHistory, today: date) -> MatchPlan:
    lo, hi = program.policy.group_min, program.policy.group_max
    n = len(people)
    if n < lo:
        unmatched = tuple((c.id, f"a circle needs at least {lo} people; you have priority next round")
                          for c in people)
        return MatchPlan((), unmatched, _quality((), n, list(unmatched)))
    count = -(-n // hi)  # fewest groups that keep every group at most hi ...
    if n // count < lo:  # ... unless that would leave a group under lo (only when lo is close to hi)
        count = n // lo
    capacities = [n // count + (1 if i < n % count else 0) for i in range(count)]
    groups: list[list[Candidate]] = [[] for _ in range(count)]
    k = program.policy.history_rounds
    for person in people:
        open_groups = [g for g, cap in zip(groups, capacities, strict=True) if len(g) < cap]

        def cost(group: list[Candidate], person: Candidate = person) -> tuple[int, int, int]:
            conflicts = sum(1 for m in group if hard_conflict(person.participant, m.participant, program,
                                                              history, today))
            repeats = sum(1 for m in group if _recent(history, person.id, m.id, k) is not None)
            return (conflicts, repeats, len(group))

        min(open_groups, key=cost).append(person)
    matches = tuple(_finish(program, group, history) for group in groups if group)
    return MatchPlan(matches, (), _quality(matches, n, []))


def _times(history: MatchHistory, person: str, role: Role) -> int:
    return history.role_counts.get(person, {}).get(role.value, 0)


def _finish(program: Program, group: list[Candidate], history: MatchHistory) -> ProposedMatch:
    people = [c.participant for c in group]
    score, reasons = 0.0, []
    for i, a in enumerate(people):
        for b in people[i + 1:]:
            s, r = pair_score(a, b, program)
            score += s
            reasons.extend(r)
    members: list[MatchMember]
    if program.kind.is_group:
        # The facilitator rotates: whoever has facilitated least, ties by id for determinism.
        facilitator = min(people, key=lambda p: (_times(history, p.id, Role.FACILITATOR), p.id))
        members = [MatchMember(p.id, Role.FACILITATOR if p is facilitator else Role.MEMBER) for p in people]
    elif program.kind is ProgramKind.MENTORING:
        def mentor_key(p: Participant) -> tuple[int, int, int, str]:
            wants = {RolePreference.MENTOR: 0, RolePreference.EITHER: 1, RolePreference.MENTEE: 2}
            return (wants[p.profile.role_preference], -p.profile.seniority, _times(history, p.id, Role.MENTOR),
                    p.id)
        mentor = min(people, key=mentor_key)
        members = [MatchMember(p.id, Role.MENTOR if p is mentor else Role.MENTEE) for p in people]
    elif program.kind is ProgramKind.BUDDY:
        def newest(p: Participant) -> tuple[str, str]:
            return (p.profile.start_date.isoformat() if p.profile.start_date else "", p.id)
        new_hire = max(people, key=newest)
        members = [MatchMember(p.id, Role.NEW_HIRE if p is new_hire else Role.BUDDY) for p in people]
    else:
        members = [MatchMember(p.id, Role.PEER) for p in people]
    unique_reasons = tuple(dict.fromkeys(reasons)) or ("you have not been matched with each other recently",)
    return ProposedMatch(tuple(members), round(score, 4), unique_reasons)


def _quality(matches: Sequence[ProposedMatch], eligible: int, unmatched: Sequence[tuple[str, str]]) -> dict[str, float]:
    return {
        "eligible": float(eligible),
        "matches": float(len(matches)),
        "total_score": round(sum(m.score for m in matches), 4),
        "trios": float(sum(1 for m in matches if len(m.members) == 3)),
        "unmatched": float(len(unmatched)),
    }
