"""Turning chosen groups of people into :class:`ProposedMatch` values with roles, scores and reasons, and the
round's quality report.

Reasons are :class:`~teams_app.domain.reasons.Reason` values (an English template and its parameters, said in
the reader's language where they are shown: "Ana offers SQL, which Bo wants."); the score of a
match is the sum of the scores of its mentor-mentee pairs (mentoring, buddies) or of all its pairs (peers,
trios, circles).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from teams_app.domain.matching.population import OFFERS, SHARED_GOALS, Population
from teams_app.domain.matching.types import MatchHistory, ProposedMatch
from teams_app.domain.model import MatchMember, ProgramKind, Role
from teams_app.domain.reasons import N_, Nn_, Reason

logger = logging.getLogger(__name__)

MAX_REASONS = 8  # a card has room for a handful of sentences
WEAK_SHARE = 0.5  # a match worth less than half of someone's best possible partner is "weak"

SHARED_TIME = N_("{hours} h of shared working time.")
GROUP_DEPARTMENTS = N_("{count} departments: {names}.")
GROUP_LOCATIONS = N_("{count} locations: {names}.")
FIRST_TIME = N_("First time you are matched.")
NONE_MET = N_("None of you has been matched together before.")
MET_RECENTLY = Nn_("You met {count} round ago, but no one else who fits was available.",
                   "You met {count} rounds ago, but no one else who fits was available.")
LAST_MET = Nn_("You last met {count} round ago.", "You last met {count} rounds ago.")
HISTORY = frozenset({FIRST_TIME, NONE_MET, MET_RECENTLY[0], LAST_MET[0]})  # templates about earlier meetings


@dataclass
class Formed:
    """One chosen group: member indices, the lead (mentor, buddy, facilitator) if any, and its kind."""

    members: list[int]
    lead: int | None = None
    notes: list[Reason] = field(default_factory=list)


def times_in_role(history: MatchHistory, person: str, role: Role) -> int:
    return history.role_counts.get(person, {}).get(role.value, 0)


def build_match(pop: Population, formed: Formed, history: MatchHistory) -> tuple[ProposedMatch, dict[int, float]]:
    """The match with its members, score and reasons, and each member's own score (for the weak-match test)."""
    kind = pop.program.kind
    people = formed.members
    per_person = dict.fromkeys(people, 0.0)
    score = 0.0
    reasons: list[Reason] = []
    if kind in (ProgramKind.MENTORING, ProgramKind.BUDDY) and formed.lead is not None:
        pairs = [(formed.lead, x) for x in people if x != formed.lead]
    else:
        pairs = [(x, y) for p, x in enumerate(people) for y in people[p + 1:]]
    mentor = formed.lead if kind is ProgramKind.MENTORING else None
    for x, y in pairs:
        s, r = pop.pair_score(x, y, mentor=mentor)
        score += s
        per_person[x] += s
        per_person[y] += s
        reasons.extend(r)
    if kind.is_group:
        reasons = _group_summary(pop, people, reasons)
    shared = min((pop.overlap(x, y) for x, y in pairs), default=0.0)
    if shared > 0:
        reasons.append(Reason.of(SHARED_TIME, hours=f"{round(shared * 2) / 2:g}"))  # half hours read naturally
    reasons.extend(formed.notes)
    reasons.extend(_history_reasons(pop, pairs))
    reasons = list(dict.fromkeys(reasons))[:MAX_REASONS]
    members = _roles(pop, formed, history)
    return ProposedMatch(members, round(score, 4), tuple(reasons)), per_person


def _group_summary(pop: Population, people: Sequence[int], pair_reasons: list[Reason]) -> list[Reason]:
    out: list[Reason] = []
    depts = sorted({pop.dept_names[pop.dept[i]] for i in people if pop.dept[i] >= 0})
    if len(depts) > 1:
        out.append(Reason.of(GROUP_DEPARTMENTS, count=len(depts), names=tuple(depts)))
    locs = sorted({pop.loc_names[pop.loc[i]] for i in people if pop.loc[i] >= 0})
    if len(locs) > 1:
        out.append(Reason.of(GROUP_LOCATIONS, count=len(locs), names=tuple(locs)))
    out.extend(r for r in pair_reasons if r.template in (OFFERS, SHARED_GOALS))
    return out


def _history_reasons(pop: Population, pairs: Sequence[tuple[int, int]]) -> list[Reason]:
    agos = [pop.met.get(x, {}).get(y) for x, y in pairs]
    known = [a for a in agos if a is not None]
    if not known:
        return [Reason.of(FIRST_TIME if len(pairs) == 1 else NONE_MET)]
    last = min(known)
    if last <= pop.program.policy.history_rounds:
        return [Reason.of(MET_RECENTLY, count=last)]
    return [Reason.of(LAST_MET, count=last)]


def _roles(pop: Population, formed: Formed, history: MatchHistory) -> tuple[MatchMember, ...]:
    kind = pop.program.kind
    ids = [pop.people[i].id for i in formed.members]
    if kind.is_group:
        facilitator = min(ids, key=lambda pid: (times_in_role(history, pid, Role.FACILITATOR), pid))
        return tuple(MatchMember(pid, Role.FACILITATOR if pid == facilitator else Role.MEMBER) for pid in ids)
    if kind in (ProgramKind.MENTORING, ProgramKind.BUDDY) and formed.lead is not None:
        lead_role, other = (Role.MENTOR, Role.MENTEE) if kind is ProgramKind.MENTORING else (Role.BUDDY,
                                                                                             Role.NEW_HIRE)
        lead_id = pop.people[formed.lead].id
        return tuple(MatchMember(pid, lead_role if pid == lead_id else other) for pid in ids)
    return tuple(MatchMember(pid, Role.PEER) for pid in ids)


def quality_report(pop: Population, formed: Sequence[Formed], matches: Sequence[ProposedMatch],
                   per_person: dict[int, float], best_raw: dict[int, float], upper_bound: float,
                   unmatched: Sequence[tuple[str, str]], forced_skipped: int) -> tuple[dict[str, float], list[str]]:
    """The flat quality report stored with the round, and who deserves priority next round."""
    total = sum(m.score for m in matches)
    repeats = repeats_any = violations = cross = 0
    for group in formed:
        members = group.members
        everyone = [(x, y) for p, x in enumerate(members) for y in members[p + 1:]]
        violations += sum(1 for x, y in everyone if not pop.feasible(x, y))  # a match is one meeting
        pairs = everyone
        if pop.program.kind in (ProgramKind.MENTORING, ProgramKind.BUDDY) and group.lead is not None:
            pairs = [(group.lead, x) for x in members if x != group.lead]
        for x, y in pairs:
            if pop.recent(x, y) is not None:
                repeats += 1
            if y in pop.met.get(x, {}):
                repeats_any += 1
        if len({pop.dept[i] for i in members if pop.dept[i] >= 0}) > 1:
            cross += 1
    trio_people = [i for g in formed if not pop.program.kind.is_group and len(g.members) == 3
                   and g.lead is None for i in g.members]
    weak = [i for i, s in per_person.items() if best_raw.get(i, 0.0) > 0 and s < WEAK_SHARE * best_raw[i]]
    needs = {pop.people[i].id for i in (*trio_people, *weak)} | {pid for pid, _ in unmatched}
    quality = {
        "eligible": float(pop.n),
        "matches": float(len(matches)),
        "total_score": round(total, 4),
        "upper_bound": round(upper_bound, 4),
        "fraction_of_bound": round(total / upper_bound, 6) if upper_bound > 0 else 1.0,
        "cross_department_share": round(cross / len(formed), 6) if formed else 0.0,
        "repeats": float(repeats),
        "repeats_any": float(repeats_any),
        "violations": float(violations),
        "trios": float(len(trio_people) // 3),
        "people_in_trios": float(len(trio_people)),
        "byes": float(len(unmatched)),
        "unmatched": float(len(unmatched)),
        "weak_matches": float(len(weak)),
        "forced_skipped": float(forced_skipped),
    }
    if violations:
        logger.error("matching produced %s hard-constraint violations", violations)
    return quality, sorted(needs)
