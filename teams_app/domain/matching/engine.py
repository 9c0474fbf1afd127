"""The matching engine behind :func:`plan_matches`: peer pairs, mentoring with capacity, new-hire buddies.

Groups (learning circles, action learning) live in :mod:`groups`. Every planner follows the same steps:
admin "force" locks first (when they break no hard constraint), a sparse candidate graph of everyone's
best feasible partners, an assignment-based solve (see :mod:`solver`), a second pass for whoever is left
using all their feasible partners, then trios (peer pairs only) so nobody who can be placed sits out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np

from teams_app.domain.matching.explain import Formed, times_in_role
from teams_app.domain.matching.groups import plan_groups
from teams_app.domain.matching.plans import (
    BYE_NO_BUDDY,
    BYE_NO_MENTEE,
    BYE_NO_MENTOR,
    BYE_NO_NEW_HIRE,
    BYE_NO_PARTNER,
    BYE_ODD,
    finish_plan,
    forced_pairs,
)
from teams_app.domain.matching.population import Population
from teams_app.domain.matching.solver import (
    assign_to_slots,
    candidate_edges,
    improve_pairs,
    max_weight_pairs,
    with_priority,
)
from teams_app.domain.matching.types import Candidate, MatchHistory, MatchPlan
from teams_app.domain.model import Program, ProgramKind, Role, RolePreference
from teams_app.domain.reasons import N_, Reason

ADMIN_PAIR = N_("An admin asked for this pair.")
ADMIN_MATCH = N_("An admin asked for this match.")
FOLLOWER_PASSES = 4  # assign, then re-home followers who cannot meet a lead's other followers
SMALL_ROUND = 2_500  # up to here: 96 + 96 candidates, both looks ranked exactly
BEST_SAMPLE = 1_024  # partners sampled to estimate everyone's best score on large rounds
CHUNK_SIZE = 12_000  # above this many people, pairs are solved in balanced chunks (linear time overall)


def candidate_count(n: int) -> int:
    """Partners per person kept in each of the two looks (best score; closest to both people's best).
    Measured on the benchmark populations: 96 + 96 reaches 99.99% of the exact optimum at 2,000 people;
    24 + 24 keeps 10,000 people within 3 s and 0.5% of the LP bound."""
    if n <= SMALL_ROUND:
        return 96
    return 48 if n <= 6_000 else 24


def _estimated_best(pop: Population, chunk: np.ndarray) -> np.ndarray:
    """Each person's best score against an evenly spread sample of the chunk (a lower estimate, cheap)."""
    sample = chunk[np.linspace(0, len(chunk) - 1, min(len(chunk), BEST_SAMPLE)).astype(np.int64)]
    _, _, _, best = candidate_edges(pop, chunk, sample, 1)
    return best


def _half_best(pop: Population, nodes: np.ndarray, best: np.ndarray) -> np.ndarray:
    out = np.zeros(pop.n)
    out[nodes] = np.where(np.isfinite(best), np.maximum(best, 0.0), 0.0) / 2
    return out


def order_candidates(candidates: Sequence[Candidate], seed: int) -> list[Candidate]:
    """Sorted by id, then a seeded shuffle: the same inputs and seed give the same order, hence the same plan."""
    people = sorted({c.id: c for c in candidates}.values(), key=lambda c: c.id)
    rng = np.random.default_rng(seed & 0xFFFFFFFFFFFFFFFF)
    return [people[i] for i in rng.permutation(len(people))]


def plan(program: Program, candidates: Sequence[Candidate], history: MatchHistory, seed: int,
         today: date) -> MatchPlan:
    people = order_candidates(candidates, seed)
    pop = Population.build(program, people, history, today)
    if program.kind.is_group:

        return plan_groups(pop, history)
    if program.kind is ProgramKind.MENTORING:
        return _plan_lead_and_followers(pop, history, *_mentoring_sides(pop, history))
    if program.kind is ProgramKind.BUDDY:
        return _plan_lead_and_followers(pop, history, *_buddy_sides(pop))
    return _plan_pairs(pop, history)


# -- peer pairs -------------------------------------------------------------------------------------------
def _plan_pairs(pop: Population, history: MatchHistory) -> MatchPlan:
    locked, skipped = forced_pairs(pop, history)
    in_lock = {i for pair in locked for i in pair}
    pool = np.array([i for i in range(pop.n) if i not in in_lock], dtype=np.int64)
    pairs: list[tuple[int, int]] = []
    best_raw: dict[int, float] = {}
    alone: list[int] = []
    edges_a, edges_b = [], []
    for chunk in _chunks(pop, pool):
        k = candidate_count(len(chunk))
        if len(chunk) <= SMALL_ROUND:
            a, b, w, best = candidate_edges(pop, chunk, chunk, k)
            # Second look: partners ranked by how close the pair comes to both people's best ("tight" pairs).
            a2, b2, w2, _ = candidate_edges(pop, chunk, chunk, k, offset=_half_best(pop, chunk, best))
            a, b, w = np.concatenate([a, a2]), np.concatenate([b, b2]), np.concatenate([w, w2])
        else:  # large: both looks in one pass, with everyone's best estimated from a sample of partners
            estimate = _estimated_best(pop, chunk)
            a, b, w, best = candidate_edges(pop, chunk, chunk, k, offset=_half_best(pop, chunk, estimate),
                                            k_offset=k)
        best_raw.update(zip(chunk.tolist(), best.tolist(), strict=True))
        found, rest = max_weight_pairs(chunk, a, b, with_priority(pop, a, b, w))
        pairs.extend(found)
        alone.extend(rest)
        edges_a.append(a)
        edges_b.append(b)
    more, alone = _pair_leftovers(pop, alone)
    pairs.extend(more)
    all_a = np.concatenate(edges_a) if edges_a else np.zeros(0, dtype=np.int64)
    all_b = np.concatenate(edges_b) if edges_b else np.zeros(0, dtype=np.int64)
    pairs, alone = improve_pairs(pop, pairs, alone, all_a, all_b)
    groups = [Formed(list(p), notes=[Reason.of(ADMIN_PAIR)]) for p in locked]
    groups.extend(Formed(list(p)) for p in pairs)
    unmatched = _place_in_trios(pop, groups, alone)
    for i, j in locked:
        best_raw.setdefault(i, pop.pair_score(i, j)[0])
        best_raw.setdefault(j, pop.pair_score(i, j)[0])
    # Upper bound for this shape of plan: everyone's best partner, once per partner they have (2 in a trio).
    bound = sum(max(best_raw.get(i, 0.0), 0.0) * (len(g.members) - 1) for g in groups for i in g.members
                if math.isfinite(best_raw.get(i, 0.0))) / 2
    return finish_plan(pop, history, groups, unmatched, best_raw, bound, skipped)


def _chunks(pop: Population, pool: np.ndarray) -> list[np.ndarray]:
    """Balanced slices of a very large pool, each with the same mix of classes (languages, time zones)."""
    count = math.ceil(len(pool) / CHUNK_SIZE)
    if count <= 1:
        return [pool]
    order = pool[np.argsort(pop.cls[pool], kind="stable")]  # deal class by class, like cards
    return [np.sort(order[k::count]) for k in range(count)]


def _pair_leftovers(pop: Population, alone: list[int]) -> tuple[list[tuple[int, int]], list[int]]:
    """Pair the people the first solve left over, looking at all of their feasible partners among themselves."""
    pairs: list[tuple[int, int]] = []
    while len(alone) >= 2:  # each pass pairs someone whenever any feasible pair is left, so this ends
        nodes = np.array(sorted(alone), dtype=np.int64)
        a, b, w, _ = candidate_edges(pop, nodes, nodes, max(candidate_count(len(nodes)), 64))
        found, rest = max_weight_pairs(nodes, a, b, with_priority(pop, a, b, w))
        if not found:
            break
        pairs.extend(found)
        alone = rest
    return pairs, alone


def _place_in_trios(pop: Population, groups: list[Formed], alone: list[int]) -> list[tuple[int, str]]:
    """Someone still alone joins the pair where they fit best (feasible with both), else gets a bye."""
    unmatched: list[tuple[int, str]] = []
    credit = np.minimum(pop.priority, 3)
    for person in sorted(alone, key=lambda i: (-int(pop.priority[i]), i)):
        hosts = [k for k, g in enumerate(groups) if len(g.members) == 2]
        if not hosts:
            unmatched.append((person, _bye_reason(pop, person)))
            continue
        host_arr = np.array([groups[k].members for k in hosts], dtype=np.int64)
        row = pop.score_block(np.array([person]), None, adjusted=True)[0].astype(np.float64)
        gain = row[host_arr[:, 0]] + row[host_arr[:, 1]] - 0.5 * (credit[host_arr[:, 0]] + credit[host_arr[:, 1]])
        if not np.isfinite(gain).any():
            unmatched.append((person, _bye_reason(pop, person)))
            continue
        best = int(np.argmax(np.where(np.isfinite(gain), gain, -np.inf)))
        groups[hosts[best]].members.append(person)
    return unmatched


def _bye_reason(pop: Population, person: int) -> str:
    """Nobody fits at all (language, working time, exclusions), or it is just the odd count."""
    row = pop.pair_weights(np.full(pop.n, person), np.arange(pop.n), adjusted=False)
    return BYE_ODD if np.isfinite(row).any() else BYE_NO_PARTNER


# -- mentoring and buddies: one lead with up to c followers -------------------------------------------------
def _mentoring_sides(pop: Population, history: MatchHistory) -> tuple[list[int], list[int], str, str]:
    """Split people into mentors and mentees by their preference, then seniority, so capacity fits demand."""
    c = pop.program.policy.mentor_capacity
    want_mentor = [i for i in range(pop.n) if pop.people[i].profile.role_preference is RolePreference.MENTOR]
    want_mentee = [i for i in range(pop.n) if pop.people[i].profile.role_preference is RolePreference.MENTEE]
    either = [i for i in range(pop.n) if pop.people[i].profile.role_preference is RolePreference.EITHER]
    either.sort(key=lambda i: (-int(pop.seniority[i]),
                               -times_in_role(history, pop.people[i].id, Role.MENTOR), i))

    def idle(x: int) -> int:
        mentors, mentees = len(want_mentor) + x, len(want_mentee) + len(either) - x
        return max(0, mentees - c * mentors) + max(0, mentors - math.ceil(mentees / c))

    x = min(range(len(either) + 1), key=lambda v: (idle(v), v))
    return want_mentor + either[:x], want_mentee + either[x:], BYE_NO_MENTEE, BYE_NO_MENTOR


def _buddy_sides(pop: Population) -> tuple[list[int], list[int], str, str]:
    """New hires (started within the policy's window, or about to start) and the tenured colleagues."""
    cutoff = pop.today - timedelta(days=pop.program.policy.new_hire_days)
    new = [i for i in range(pop.n) if (d := pop.people[i].profile.start_date) is not None and d >= cutoff]
    new_set = set(new)
    return [i for i in range(pop.n) if i not in new_set], new, BYE_NO_NEW_HIRE, BYE_NO_BUDDY


def _plan_lead_and_followers(pop: Population, history: MatchHistory, leads: list[int], followers: list[int],
                             idle_lead: str, no_lead: str) -> MatchPlan:
    capacity_of = pop.program.policy.mentor_capacity
    lead_set = set(leads)
    locked, skipped = forced_pairs(pop, history)
    assigned: dict[int, list[int]] = {}
    locked_followers: set[int] = set()
    notes: dict[int, list[Reason]] = {}
    for i, j in locked:
        if i in lead_set and j not in lead_set:
            lead, follower = i, j
        elif j in lead_set and i not in lead_set:
            lead, follower = j, i
        else:
            lead, follower = _pick_lead(pop, i, j)
        if lead in locked_followers or follower in assigned or len(assigned.get(lead, [])) >= capacity_of:
            skipped += 1
            continue
        assigned.setdefault(lead, []).append(follower)
        locked_followers.add(follower)
        notes.setdefault(lead, []).append(Reason.of(ADMIN_MATCH))
    leads = [i for i in leads if i not in locked_followers]
    for lead in assigned:
        if lead not in leads:
            leads.append(lead)
    followers = [i for i in followers if i not in locked_followers and i not in assigned]
    lead_arr = np.array(sorted(leads), dtype=np.int64)
    follower_arr = np.array(sorted(followers), dtype=np.int64)
    capacity = np.array([capacity_of - len(assigned.get(int(m), [])) for m in lead_arr], dtype=np.int64)
    mentoring = pop.program.kind is ProgramKind.MENTORING
    best_raw: dict[int, float] = {}
    alone: list[int] = follower_arr.tolist()
    slot = {int(m): p for p, m in enumerate(lead_arr.tolist())}
    for attempt in range(FOLLOWER_PASSES):
        if alone and len(lead_arr) and capacity.sum() > 0:
            nodes = np.array(sorted(alone), dtype=np.int64)
            free = lead_arr[capacity > 0]
            k = candidate_count(len(nodes)) + capacity_of if attempt == 0 else min(len(free), 256)
            a, b, w, best = candidate_edges(pop, nodes, free, k, mentee_rows=mentoring)
            if attempt == 0:
                best_raw.update(zip(nodes.tolist(), best.tolist(), strict=True))
            else:  # a follower must also be able to meet everyone the lead already has
                ok = _fits_followers(pop, a, b, assigned, capacity_of)
                a, b, w = a[ok], b[ok], w[ok]
            pairs, alone = assign_to_slots(nodes, free, capacity[capacity > 0], a, b, with_priority(pop, a, b, w))
            for follower, lead in pairs:
                assigned.setdefault(lead, []).append(follower)
                capacity[slot[lead]] -= 1
        # A match is one meeting: followers who cannot meet the lead's other followers try again elsewhere.
        evicted: list[int] = []
        for lead in sorted(assigned):
            keep, out = _split_compatible(pop, lead, assigned[lead], locked_followers)
            if out:
                assigned[lead] = keep
                capacity[slot[lead]] += len(out)
                evicted.extend(out)
        if not evicted:
            break
        alone = sorted(set(alone) | set(evicted))
    assigned = {lead: followers for lead, followers in assigned.items() if followers}
    formed = [Formed([lead, *sorted(assigned[lead])], lead=lead, notes=notes.get(lead, []))
              for lead in sorted(assigned)]
    unmatched = [(i, no_lead) for i in sorted(alone)]
    unmatched += [(i, idle_lead) for i in lead_arr.tolist() if i not in assigned]
    for group in formed:
        for follower in group.members[1:]:
            best_raw.setdefault(follower, pop.pair_score(group.lead or follower, follower)[0])
    bound = sum(max(v, 0.0) for v in best_raw.values() if math.isfinite(v))  # each follower's best lead
    return finish_plan(pop, history, formed, unmatched, best_raw, bound, skipped)


def _split_compatible(pop: Population, lead: int, followers: list[int], locked: set[int]
                      ) -> tuple[list[int], list[int]]:
    """Keep the followers who can all meet together (locked ones first, then the best fits for the lead)."""
    if len(followers) <= 1:
        return followers, []
    scores = pop.pair_weights(np.full(len(followers), lead), np.array(followers, dtype=np.int64))
    order = sorted(range(len(followers)), key=lambda k: (followers[k] not in locked, -scores[k], followers[k]))
    keep: list[int] = []
    out: list[int] = []
    for k in order:
        person = followers[k]
        (keep if pop.feasible_with_all(person, keep) else out).append(person)
    return keep, out


def _fits_followers(pop: Population, a: np.ndarray, b: np.ndarray, assigned: dict[int, list[int]],
                    capacity: int) -> np.ndarray:
    """For candidate edges follower a[k] -> lead b[k]: does a[k] fit every follower b[k] already has?"""
    ok = np.ones(len(a), dtype=bool)
    if not len(a):
        return ok
    leads = np.unique(b)
    table = np.full((len(leads), capacity), -1, dtype=np.int64)
    for row, lead in enumerate(leads.tolist()):
        current = assigned.get(lead, [])[:capacity]
        table[row, :len(current)] = current
    others = table[np.searchsorted(leads, b)]
    for t in range(capacity):
        present = others[:, t] >= 0
        if present.any():
            w = pop.pair_weights(a[present], others[present, t], adjusted=False)
            ok[np.flatnonzero(present)[~np.isfinite(w)]] = False
    return ok


def _pick_lead(pop: Population, i: int, j: int) -> tuple[int, int]:
    """For a locked pair on the same side: the more senior, then longer-tenured person leads."""
    def key(x: int) -> tuple[int, int, int]:
        start = pop.people[x].profile.start_date
        return (int(pop.seniority[x]), 0 if start is None else -start.toordinal(), -x)
    return (i, j) if key(i) >= key(j) else (j, i)
