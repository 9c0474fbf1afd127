"""What every matching planner shares: the reasons given for a bye, admin locks, and building the plan.

Split from :mod:`engine` so that :mod:`groups` and :mod:`engine` depend on this module, not on each other.
"""

from __future__ import annotations

import logging

from teams_app.domain.matching.explain import Formed, build_match, quality_report
from teams_app.domain.matching.population import Population
from teams_app.domain.matching.types import MatchHistory, MatchPlan

logger = logging.getLogger(__name__)

BYE_NO_PARTNER = "nobody shares a language and enough working time with you this round; you have priority next round"
BYE_NO_MENTEE = "no mentee needed a mentor this round; you have priority next round"
BYE_NO_MENTOR = "no mentor with free capacity fits you this round; you have priority next round"
BYE_NO_NEW_HIRE = "no new hire needs a buddy this round"
BYE_NO_BUDDY = "no colleague who fits you is free to be your buddy this round; you have priority next round"
BYE_ODD = "an odd number of people took part and no match could take a third person; you have priority next round"


def forced_pairs(pop: Population, history: MatchHistory) -> tuple[list[tuple[int, int]], int]:
    """Admin locks that can be honoured: both present, no hard conflict, each person in one lock only."""
    taken: set[int] = set()
    out: list[tuple[int, int]] = []
    skipped = 0
    for pair in sorted(history.forced, key=lambda p: sorted(p)):
        ids = sorted(pair)
        if len(ids) != 2 or ids[0] not in pop.index or ids[1] not in pop.index:
            continue
        i, j = pop.index[ids[0]], pop.index[ids[1]]
        if i in taken or j in taken or not pop.feasible(i, j):
            logger.warning("admin lock %s skipped: a person is locked twice or the pair breaks a hard constraint",
                           ids)
            skipped += 1
            continue
        out.append((i, j))
        taken.update((i, j))
    return out, skipped


def finish_plan(pop: Population, history: MatchHistory, formed: list[Formed], unmatched: list[tuple[int, str]],
            best_raw: dict[int, float], upper_bound: float, forced_skipped: int) -> MatchPlan:
    matches = []
    per_person: dict[int, float] = {}
    for group in formed:
        match, scores = build_match(pop, group, history)
        matches.append(match)
        per_person.update(scores)
    byes = [(pop.people[i].id, reason) for i, reason in unmatched]
    quality, needs = quality_report(pop, formed, matches, per_person, best_raw, upper_bound, byes, forced_skipped)
    return MatchPlan(tuple(matches), tuple(byes), quality, tuple(needs))
