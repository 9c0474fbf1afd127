"""Learning circles and action-learning groups of ``group_min``..``group_max`` people.

Group sizes are as even as possible with the fewest groups. Groups are grown one at a time from a seed (admin
locks first, then people with fairness credit, then the people with the fewest compatible colleagues, so the
hard cases are placed while there is still room): each step adds the unassigned person who fits the current
members best (sum of pair scores, which rewards a mix of departments and skills) among the members' best
candidates, checking every hard constraint against every member. Whoever is left joins a group with room
where they fit everyone; groups that end up too small are dissolved the same way.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from teams_app.domain.matching.engine import BYE_NO_PARTNER, _finish, forced_pairs
from teams_app.domain.matching.explain import Formed
from teams_app.domain.matching.population import Population
from teams_app.domain.matching.solver import PRIORITY_BONUS, candidate_edges
from teams_app.domain.matching.types import MatchHistory, MatchPlan

logger = logging.getLogger(__name__)

GROUP_CANDIDATES = 16  # best partners kept per person; a group draws on all of its members' lists
FALLBACK_SCAN = 4_000  # when no listed candidate fits, scan at most this many unassigned people


def group_sizes(n: int, lo: int, hi: int) -> list[int]:
    """The fewest groups of at most ``hi`` people, as even as possible, unless that leaves one under ``lo``."""
    if n < lo:
        return []
    count = math.ceil(n / hi)
    if n // count < lo:
        count = n // lo
    return [n // count + (1 if g < n % count else 0) for g in range(count)]


def plan_groups(pop: Population, history: MatchHistory) -> MatchPlan:
    policy = pop.program.policy
    lo, hi = policy.group_min, policy.group_max
    n = pop.n
    sizes = group_sizes(n, lo, hi)
    if not sizes:
        too_few = [(i, f"a group needs at least {lo} people; you have priority next round") for i in range(n)]
        return _finish(pop, history, [], too_few, {}, 0.0, 0)
    locked, skipped = forced_pairs(pop, history)
    everyone = np.arange(n, dtype=np.int64)
    a, b, w, best = candidate_edges(pop, everyone, None, GROUP_CANDIDATES)
    order = np.lexsort((-w, a))
    a, b = a[order], b[order]
    bounds = np.searchsorted(a, np.arange(n + 1))
    neighbours = [b[bounds[i]:bounds[i + 1]] for i in range(n)]
    class_sizes = np.bincount(pop.cls, minlength=pop.compat.shape[0])
    reach = (pop.compat.astype(np.int64) @ class_sizes)[pop.cls]  # how many people each person could meet
    credit = np.minimum(pop.priority, 3)

    group_of = np.full(n, -1, dtype=np.int64)
    groups: list[list[int]] = []
    locked_people = {i for pair in locked for i in pair}
    seeds: list[list[int]] = [list(pair) for pair in locked]
    seeds += [[i] for i in sorted(range(n), key=lambda i: (-int(credit[i]), int(reach[i]), i))
              if i not in locked_people]
    seed_iter = iter(seeds)
    for size in sizes:
        seed = next((s for s in seed_iter if all(group_of[i] < 0 for i in s)), None)
        if seed is None:
            break
        members = list(seed)
        group_of[members] = len(groups)
        while len(members) < size:
            pick = _best_addition(pop, members, neighbours, group_of, locked_people, credit)
            if pick is None:
                break
            members.append(pick)
            group_of[pick] = len(groups)
        groups.append(members)

    leftovers = [i for i in range(n) if group_of[i] < 0]
    for k, members in enumerate(groups):  # too small: dissolve and place the members elsewhere
        if len(members) < lo:
            leftovers.extend(members)
            group_of[members] = -1
            groups[k] = []
    unmatched: list[tuple[int, str]] = []
    for person in sorted(leftovers, key=lambda i: (-int(credit[i]), i)):
        target = _group_with_room(pop, person, groups, hi)
        if target is None:
            unmatched.append((person, BYE_NO_PARTNER))
        else:
            groups[target].append(person)
            group_of[person] = target
    formed = [Formed(sorted(g)) for g in groups if g]
    best_raw = {i: float(best[i]) for i in range(n)}
    bound = sum(max(best_raw[i], 0.0) * (len(g.members) - 1) for g in formed for i in g.members) / 2
    if skipped:
        logger.info("%s admin locks could not be honoured", skipped)
    return _finish(pop, history, formed, unmatched, best_raw, bound, skipped)


def _best_addition(pop: Population, members: list[int], neighbours: list[np.ndarray], group_of: np.ndarray,
                   locked: set[int], credit: np.ndarray) -> int | None:
    """The unassigned person who adds the most to ``members`` and conflicts with none of them."""
    listed = np.unique(np.concatenate([neighbours[m] for m in members]))
    listed = listed[group_of[listed] < 0]
    for pool in (listed, None):
        if pool is None:
            rest = np.flatnonzero(group_of < 0)
            pool = rest[:FALLBACK_SCAN]
        if locked:
            pool = pool[[int(x) not in locked for x in pool]] if len(pool) else pool
        if not len(pool):
            continue
        scores = pop.score_block(pool.astype(np.int64), np.array(members, dtype=np.int64), adjusted=True)
        total = scores.sum(axis=1, dtype=np.float64) + PRIORITY_BONUS * credit[pool]
        if np.isfinite(total).any():
            return int(pool[int(np.argmax(np.where(np.isfinite(total), total, -np.inf)))])
    return None


def _group_with_room(pop: Population, person: int, groups: list[list[int]], hi: int) -> int | None:
    row = pop.score_block(np.array([person], dtype=np.int64), None, adjusted=True)[0].astype(np.float64)
    best_k, best_gain = None, -np.inf
    for k, members in enumerate(groups):
        if not members or len(members) >= hi:
            continue
        gain = float(row[members].sum())
        if np.isfinite(gain) and gain > best_gain:
            best_k, best_gain = k, gain
    return best_k
