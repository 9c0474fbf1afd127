"""Who reviews whom: partners, circle members, or N peers from other teams, balanced and deterministic for a
seed; never oneself, never a manager or direct report."""

from __future__ import annotations

import heapq
import logging
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from teams_app.domain.errors import InvalidInput
from teams_app.domain.model import Match, Participant

logger = logging.getLogger(__name__)

MAX_REVIEWERS = 10


class AllocationMode(StrEnum):
    PARTNERS = "partners"  # everyone reviews their partner(s) of the round
    CIRCLE = "circle"  # circle members review each other (capped at N per person, balanced)
    PEERS = "peers"  # N peers from outside the person's own team


class ReviewKind(StrEnum):
    PEER = "peer"
    SELF = "self"


@dataclass(frozen=True)
class Assignment:
    reviewer_id: str
    reviewee_id: str
    kind: ReviewKind = ReviewKind.PEER


@dataclass(frozen=True)
class Allocation:
    assignments: tuple[Assignment, ...]
    unfilled: tuple[tuple[str, str], ...] = ()  # (reviewee id, why fewer reviewers than asked)

    def load(self) -> dict[str, int]:
        """Peer reviews each reviewer must write."""
        counts: dict[str, int] = defaultdict(int)
        for a in self.assignments:
            if a.kind is ReviewKind.PEER:
                counts[a.reviewer_id] += 1
        return dict(counts)


def reporting_conflict(a: Participant, b: Participant) -> bool:
    """True when one is the other's manager (known from ``manager_email``)."""
    return bool((a.manager_email and a.manager_email == b.email) or (b.manager_email and b.manager_email == a.email))


def _team(person: Participant) -> str:
    return person.profile.department.strip().lower()


def allocate_reviewers(
    people: Sequence[Participant],
    mode: AllocationMode | str,
    *,
    seed: int,
    matches: Sequence[Match] = (),
    per_person: int = 3,
    self_assessment: bool = False,
) -> Allocation:
    """Who reviews whom. Never oneself (except the separate self-assessment), never a manager or a direct
    report, and, for random peers, never someone of the same team; loads differ by at most one where the
    constraints allow. The same inputs and seed give the same allocation.
    """
    try:
        mode = AllocationMode(mode)
    except ValueError:
        raise InvalidInput("mode", f"must be one of {', '.join(m.value for m in AllocationMode)}") from None
    if not 1 <= per_person <= MAX_REVIEWERS:
        raise InvalidInput("reviewers_per_person", f"must be between 1 and {MAX_REVIEWERS}")
    by_id = {p.id: p for p in people}
    if mode is AllocationMode.PEERS:
        allocation = _allocate_peers(sorted(by_id.values(), key=lambda p: p.id), per_person, seed)
    else:
        allocation = _allocate_within_matches(by_id, matches, mode, per_person, seed)
    if self_assessment:
        selves = tuple(Assignment(pid, pid, ReviewKind.SELF) for pid in sorted(by_id))
        allocation = replace(allocation, assignments=allocation.assignments + selves)
    logger.debug("allocated %s reviews (%s unfilled) in mode %s", len(allocation.assignments),
                 len(allocation.unfilled), mode.value)
    return allocation


def _allocate_within_matches(by_id: Mapping[str, Participant], matches: Sequence[Match], mode: AllocationMode,
                             per_person: int, seed: int) -> Allocation:
    assignments: list[Assignment] = []
    unfilled: list[tuple[str, str]] = []
    for match in sorted(matches, key=lambda m: m.id):
        members = [by_id[pid] for pid in match.participant_ids if pid in by_id]
        if mode is AllocationMode.CIRCLE and len(members) - 1 > per_person:
            # A big circle: member i reviews the next per_person members of a seeded ring, so every
            # member writes and receives exactly per_person reviews (conflicts skip ahead on the ring).
            ring = sorted(members, key=lambda p: p.id)
            random.Random(f"{seed}/{match.id}").shuffle(ring)
            received: dict[str, int] = defaultdict(int)
            for i, reviewer in enumerate(ring):
                given = 0
                for step in range(1, len(ring)):
                    reviewee = ring[(i + step) % len(ring)]
                    if given == per_person:
                        break
                    if reporting_conflict(reviewer, reviewee):
                        continue
                    assignments.append(Assignment(reviewer.id, reviewee.id))
                    received[reviewee.id] += 1
                    given += 1
            for person in ring:
                if received[person.id] < per_person:
                    unfilled.append((person.id, "a manager or direct report in the circle cannot review you"))
            continue
        for reviewee in members:
            reviewers = [r for r in members if r.id != reviewee.id and not reporting_conflict(r, reviewee)]
            for reviewer in reviewers:
                assignments.append(Assignment(reviewer.id, reviewee.id))
            if len(reviewers) < len(members) - 1:
                unfilled.append((reviewee.id, "your manager or direct report in the match cannot review you"))
            elif not reviewers:
                unfilled.append((reviewee.id, "nobody in your match can review you"))
    return Allocation(tuple(assignments), tuple(unfilled))


SWAP_TRIES = 300  # random swap partners tried per violating slot before a bounded scan
SWAP_SCAN = 5_000  # slots scanned after that


def _allocate_peers(people: list[Participant], per_person: int, seed: int) -> Allocation:
    """A balanced design repaired by swaps, then a least-loaded top-up where the constraints make it impossible.

    1. Seeded shuffle; person i is reviewed by the next ``k`` people on the ring: everyone writes and receives
       exactly ``k`` reviews (a circulant design), in O(n k).
    2. Slots that break a rule (same team, manager/report) swap reviewers with another slot where both new
       pairs are allowed; a swap keeps every load, so the balance survives.
    3. Slots no swap can fix go to the least-loaded eligible reviewer, or stay unfilled with the reason; then
       single reviews move from busy to idle eligible reviewers while that narrows the gap (loads may still
       differ by more than one when the population allows nothing better, e.g. one team of 80%).
    """
    n = len(people)
    k = min(per_person, n - 1)
    if k <= 0:
        return Allocation((), tuple((p.id, "nobody else takes part") for p in people))
    rng = random.Random(seed)
    order = list(people)
    rng.shuffle(order)
    teams = [_team(p) for p in order]

    def allowed(r: int, u: int) -> bool:
        if r == u or (teams[u] and teams[r] == teams[u]):
            return False
        return not reporting_conflict(order[r], order[u])

    slots: list[tuple[int, int] | None] = [((u + shift) % n, u) for u in range(n) for shift in range(1, k + 1)]
    taken = {slot for slot in slots if slot is not None}
    dropped: list[int] = []  # reviewees still owed one review per entry
    hopeless: set[tuple[str, str]] = set()  # (reviewer team, reviewee team) whose swap search already failed
    for j, slot in enumerate(slots):
        if slot is None or allowed(*slot):
            continue
        r, u = slot
        kinds = (teams[r], teams[u])
        partner = None if kinds in hopeless else _swap_partner(slots, taken, j, r, u, allowed, rng)
        taken.discard((r, u))
        if partner is None:
            hopeless.add(kinds)
            slots[j] = None
            dropped.append(u)
            continue
        r2, u2 = slots[partner]  # type: ignore[misc]
        taken.discard((r2, u2))
        slots[j], slots[partner] = (r2, u), (r, u2)
        taken.update({(r2, u), (r, u2)})

    load = [0] * n
    for slot in slots:
        if slot is not None:
            load[slot[0]] += 1
    heaps: dict[str, list[tuple[int, int]]] = defaultdict(list)  # team -> (load, ring position), lazily updated
    for r in range(n):
        heaps[teams[r]].append((load[r], r))
    for heap in heaps.values():
        heapq.heapify(heap)
    unfilled: dict[int, int] = {}
    for u in dropped:
        chosen = _least_loaded(u, heaps, load, taken, allowed, teams)
        if chosen is None:
            unfilled[u] = unfilled.get(u, 0) + 1
            continue
        load[chosen] += 1
        heapq.heappush(heaps[teams[chosen]], (load[chosen], chosen))
        taken.add((chosen, u))
    if max(load) - min(load) > 1:
        _level_loads(taken, heaps, load, allowed, teams)
    assignments = sorted((Assignment(order[r].id, order[u].id) for r, u in taken),
                         key=lambda a: (a.reviewee_id, a.reviewer_id))
    reasons = tuple(sorted((order[u].id, f"only {k - missing} eligible reviewers outside your team")
                           for u, missing in unfilled.items()))
    return Allocation(tuple(assignments), reasons)


def _level_loads(taken: set[tuple[int, int]], heaps: Mapping[str, list[tuple[int, int]]], load: list[int],
                 allowed: Any, teams: list[str], passes: int = 3) -> None:
    """Move single reviews from busy reviewers to idle eligible ones while that narrows the gap (an uneven
    population: one team too big to be reviewed only by the others)."""
    for _ in range(passes):
        moved = 0
        for r, u in sorted(taken, key=lambda slot: (-load[slot[0]], slot)):
            other = _least_loaded(u, heaps, load, taken, allowed, teams)
            if other is None or load[other] + 1 >= load[r]:
                continue
            taken.discard((r, u))
            taken.add((other, u))
            load[r] -= 1
            load[other] += 1
            heapq.heappush(heaps[teams[r]], (load[r], r))
            heapq.heappush(heaps[teams[other]], (load[other], other))
            moved += 1
        if not moved:
            return


def _swap_partner(slots: list[tuple[int, int] | None], taken: set[tuple[int, int]], j: int, r: int, u: int,
                  allowed: Any, rng: random.Random) -> int | None:
    """A slot (r2, u2) such that r2 may review u and r may review u2, neither pair existing yet."""
    m = len(slots)

    def fits(j2: int) -> bool:
        other = slots[j2]
        if j2 == j or other is None:
            return False
        r2, u2 = other
        return (allowed(r2, u) and allowed(r, u2) and (r2, u) not in taken and (r, u2) not in taken)

    for _ in range(min(SWAP_TRIES, m)):
        j2 = rng.randrange(m)
        if fits(j2):
            return j2
    start = rng.randrange(m)
    for step in range(min(SWAP_SCAN, m)):
        j2 = (start + step) % m
        if fits(j2):
            return j2
    return None


def _least_loaded(u: int, heaps: Mapping[str, list[tuple[int, int]]], load: list[int],
                  taken: set[tuple[int, int]], allowed: Any, teams: list[str]) -> int | None:
    """The eligible reviewer of ``u`` with the lowest load (lowest ring position on ties), or None.

    One heap per team: only the tops of the other teams' heaps are compared, so this is O(teams log n).
    """
    best: tuple[int, int] | None = None
    for team, heap in heaps.items():
        if teams[u] and team == teams[u]:
            continue
        stash: list[tuple[int, int]] = []
        while heap:
            entry_load, r = heap[0]
            if entry_load != load[r]:
                heapq.heappop(heap)  # stale: this reviewer's load changed since
            elif (r, u) in taken or not allowed(r, u):
                stash.append(heapq.heappop(heap))
            else:
                break
        if heap and (best is None or heap[0] < best):
            best = heap[0]
        for entry in stash:
            heapq.heappush(heap, entry)
    return None if best is None else best[1]
