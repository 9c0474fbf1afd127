"""Learning circles and action-learning groups of ``group_min``..``group_max`` people.

Group sizes are as even as possible with the fewest groups. Groups are grown one at a time from a seed (admin
locks first, then people with fairness credit, then the people with the fewest compatible colleagues, so the
hard cases are placed while there is still room): each step adds the unassigned person who fits the current
members best (sum of pair scores, which rewards a mix of departments and skills) among the members' best
candidates, checking every hard constraint against every member. Whoever is left joins a group with room
where they fit everyone; groups that end up too small are dissolved the same way. Finally, improving swaps
between groups (vectorised, many disjoint swaps per pass) even out what the greedy growth left uneven.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from teams_app.domain.matching.explain import Formed
from teams_app.domain.matching.plans import BYE_NO_PARTNER, finish_plan, forced_pairs
from teams_app.domain.matching.population import Population
from teams_app.domain.matching.solver import PRIORITY_BONUS, candidate_edges
from teams_app.domain.matching.types import MatchHistory, MatchPlan

logger = logging.getLogger(__name__)

GROUP_CANDIDATES = 16  # best partners kept per person; a group draws on all of its members' lists
SWAP_PASSES = 4  # rounds of improving swaps between groups (+1.1% score at 10,000 people, ~1.3 s)
FALLBACK_SCAN = 4_000  # when no listed candidate fits, scan at most this many unassigned people


def group_sizes(n: int, lo: int, hi: int) -> list[int]:
    """The fewest groups of ``lo``..``hi`` people, as even as possible; when ``n`` cannot be split that way
    (5 people in groups of 3-4), as many full groups as fit (the rest wait for the next round)."""
    if n < lo:
        return []
    for count in range(math.ceil(n / hi), n // lo + 1):
        if lo * count <= n <= hi * count:
            return [n // count + (1 if g < n % count else 0) for g in range(count)]
    return [hi] * (n // hi) or [min(n, hi)]


def plan_groups(pop: Population, history: MatchHistory) -> MatchPlan:
    policy = pop.program.policy
    lo, hi = policy.group_min, policy.group_max
    n = pop.n
    sizes = group_sizes(n, lo, hi)
    if not sizes:
        too_few = [(i, f"a group needs at least {lo} people; you have priority next round") for i in range(n)]
        return finish_plan(pop, history, [], too_few, {}, 0.0, 0)
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
    locked_mask = np.zeros(n, dtype=bool)
    for pair in locked:
        locked_mask[list(pair)] = True
    seeds: list[list[int]] = [list(pair) for pair in locked]
    seeds += [[i] for i in sorted(range(n), key=lambda i: (-int(credit[i]), int(reach[i]), i))
              if not locked_mask[i]]
    remaining = n
    for seed in seeds:
        if any(group_of[i] >= 0 for i in seed):
            continue
        targets = group_sizes(remaining, lo, hi)  # re-planned as we go: a short group changes the rest
        if not targets:
            break
        members = list(seed)
        group_of[members] = len(groups)
        locked_mask[members] = False
        _grow(pop, members, targets[0], len(groups), neighbours, group_of, locked_mask, credit)
        groups.append(members)
        remaining -= len(members)

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
            unmatched.append((person, _bye_reason(pop, person)))
        else:
            groups[target].append(person)
            group_of[person] = target
    groups = [g for g in groups if g]
    _improve_by_swaps(pop, groups, neighbours, _locked_people(locked, n), hi)
    # Swaps change who is in which group, so someone left out may now fit a group that still has room.
    still_out: list[tuple[int, str]] = []
    for person, reason in unmatched:
        target = _group_with_room(pop, person, groups, hi)
        if target is None:
            still_out.append((person, reason))
        else:
            groups[target].append(person)
    unmatched = still_out
    formed = [Formed(sorted(g)) for g in groups]
    best_raw = {i: float(best[i]) for i in range(n)}
    bound = sum(max(best_raw[i], 0.0) * (len(g.members) - 1) for g in formed for i in g.members) / 2
    if skipped:
        logger.info("%s admin locks could not be honoured", skipped)
    return finish_plan(pop, history, formed, unmatched, best_raw, bound, skipped)


def _grow(pop: Population, members: list[int], target: int, label: int, neighbours: list[np.ndarray],
          group_of: np.ndarray, locked: np.ndarray, credit: np.ndarray) -> None:
    """Add the best-fitting unassigned person until ``target``: candidates are the members' best partners, each
    with a running total of its scores with every member (-inf once it conflicts with one)."""
    cand = np.zeros(0, dtype=np.int64)
    total = np.zeros(0)
    fresh = members
    while True:
        new = np.unique(np.concatenate([neighbours[m] for m in fresh]))
        new = new[(group_of[new] < 0) & ~locked[new]]
        new = np.setdiff1d(new, cand, assume_unique=True)
        if len(new):
            member_arr = np.array(members, dtype=np.int64)
            w = pop.pair_weights(np.repeat(new, len(member_arr)), np.tile(member_arr, len(new)))
            cand = np.concatenate([cand, new])
            total = np.concatenate([total, w.reshape(len(new), len(member_arr)).sum(axis=1)])
        if len(members) >= target:
            return
        score = total + PRIORITY_BONUS * credit[cand] if len(cand) else total
        if len(cand) and np.isfinite(score).any():
            k = int(np.argmax(score))
        else:
            pick = _scan_for_addition(pop, members, group_of, locked, credit)
            if pick is None:
                return
            cand = np.append(cand, pick)
            total = np.append(total, 0.0)
            k = len(cand) - 1
        pick = int(cand[k])
        members.append(pick)
        group_of[pick] = label
        cand = np.delete(cand, k)
        total = np.delete(total, k)
        if len(cand):
            total += pop.pair_weights(cand, np.full(len(cand), pick))
        fresh = [pick]


def _scan_for_addition(pop: Population, members: list[int], group_of: np.ndarray, locked: np.ndarray,
                       credit: np.ndarray) -> int | None:
    """Fallback when no listed candidate fits: look through unassigned people (up to FALLBACK_SCAN)."""
    pool = np.flatnonzero((group_of < 0) & ~locked)[:FALLBACK_SCAN]
    if not len(pool):
        return None
    member_arr = np.array(members, dtype=np.int64)
    w = pop.pair_weights(np.repeat(pool, len(member_arr)), np.tile(member_arr, len(pool)))
    total = w.reshape(len(pool), len(member_arr)).sum(axis=1) + PRIORITY_BONUS * credit[pool]
    if not np.isfinite(total).any():
        return None
    return int(pool[int(np.argmax(total))])


BYE_GROUPS_FULL = "every group you could join is full this round; you have priority next round"


def _bye_reason(pop: Population, person: int) -> str:
    row = pop.pair_weights(np.full(pop.n, person), np.arange(pop.n), adjusted=False)
    return BYE_GROUPS_FULL if np.isfinite(row).any() else BYE_NO_PARTNER


def _locked_people(locked: list[tuple[int, int]], n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for pair in locked:
        mask[list(pair)] = True
    return mask


def _improve_by_swaps(pop: Population, groups: list[list[int]], neighbours: list[np.ndarray], fixed: np.ndarray,
                      hi: int, passes: int | None = None) -> None:
    """Swap two people between groups when both groups gain: x in A, y in B (one of x's best partners) become
    y in A, x in B. Gains are computed for every candidate swap at once; disjoint improving swaps (each group
    once per pass) are applied best first. Admin-locked people stay put; sizes never change."""
    n = pop.n
    if len(groups) < 2:
        return
    for _ in range(SWAP_PASSES if passes is None else passes):
        group_of = np.full(n, -1, dtype=np.int64)
        table = np.full((len(groups), hi), -1, dtype=np.int64)
        for k, members in enumerate(groups):
            group_of[members] = k
            table[k, :len(members)] = members
        x = np.concatenate([np.full(len(neighbours[i]), i) for i in range(n)]).astype(np.int64)
        y = np.concatenate(neighbours).astype(np.int64) if n else np.zeros(0, dtype=np.int64)
        ok = (group_of[x] >= 0) & (group_of[y] >= 0) & (group_of[x] != group_of[y]) & ~fixed[x] & ~fixed[y]
        x, y = x[ok], y[ok]
        if not len(x):
            return
        current = _sum_with(pop, np.arange(n), table[np.maximum(group_of, 0)])  # with one's own group (self = 0)
        x_in_b = _sum_with(pop, x, table[group_of[y]]) - _pair(pop, x, y)
        y_in_a = _sum_with(pop, y, table[group_of[x]]) - _pair(pop, y, x)
        gain = x_in_b + y_in_a - current[x] - current[y]
        better = np.flatnonzero(np.isfinite(gain) & (gain > 1e-6))
        if not len(better):
            return
        touched = np.zeros(len(groups), dtype=bool)
        for k in better[np.argsort(-gain[better], kind="stable")].tolist():
            a, b = int(group_of[x[k]]), int(group_of[y[k]])
            if touched[a] or touched[b]:
                continue
            touched[a] = touched[b] = True
            groups[a][groups[a].index(int(x[k]))] = int(y[k])
            groups[b][groups[b].index(int(y[k]))] = int(x[k])


def _pair(pop: Population, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return pop.pair_weights(a, b)


def _sum_with(pop: Population, people: np.ndarray, members: np.ndarray) -> np.ndarray:
    """For each person, the sum of their (adjusted) scores with the members of a padded row (-1 = empty);
    themselves count 0, any conflict makes the sum -inf."""
    rows, width = members.shape
    flat_people = np.repeat(people, width)
    flat_members = members.reshape(-1)
    present = (flat_members >= 0) & (flat_members != flat_people)
    weights = np.zeros(len(flat_members))
    weights[present] = pop.pair_weights(flat_people[present], flat_members[present])
    return weights.reshape(rows, width).sum(axis=1)


def _group_with_room(pop: Population, person: int, groups: list[list[int]], hi: int) -> int | None:
    """The group with room where ``person`` fits every member and adds the most."""
    open_groups = [k for k, members in enumerate(groups) if members and len(members) < hi]
    if not open_groups:
        return None
    owners = np.concatenate([np.full(len(groups[k]), k) for k in open_groups])
    others = np.concatenate([np.array(groups[k], dtype=np.int64) for k in open_groups])
    weights = pop.pair_weights(np.full(len(others), person), others)
    totals = np.zeros(len(groups))
    np.add.at(totals, owners, weights)
    candidates = np.array(open_groups)
    gains = totals[candidates]
    if not np.isfinite(gains).any():
        return None
    return int(candidates[int(np.argmax(gains))])
