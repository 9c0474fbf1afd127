"""Circles that stay together for a term, and the facilitator who rotates each session.

A circle program (learning circles, action learning) forms its circles at the first session of a term
(:func:`teams_app.domain.matching.groups.plan_groups`) and keeps them for ``Program.sessions_per_term``
sessions; the next round after that starts a new term with new circles. Within a term each round reuses the
circles of the previous session:

* members who left (or are paused) drop out; the others stay together; someone back from a pause returns to
  their own circle while it has room;
* a circle that fell below ``group_min`` is first merged with another such circle (when together they fit
  ``group_max`` and every hard constraint), else refilled with people waiting for a circle, else dissolved:
  its members join circles with room where they fit everyone;
* people who joined the program during the term (and members of dissolved circles nobody could take) join a
  circle with room where they fit every member; when at least ``group_min`` of them are still left, they form
  new circles of their own (which end with the term); otherwise they wait for the next term and are told so.

The facilitator rotates: each member in turn, whoever facilitated least recently in this term first (never
before first of all; ties keep the circle's order, then fewer times as facilitator ever, then the id). A
match's members are stored in rotation order, so member 0 is this session's facilitator and member 1 the next.
Every change is said in the match's reasons ("2 members left ...") and counted in the round's quality report.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np

from teams_app.domain.matching.engine import order_candidates
from teams_app.domain.matching.explain import HISTORY, Formed, times_in_role
from teams_app.domain.matching.groups import plan_groups
from teams_app.domain.matching.plans import finish_plan
from teams_app.domain.matching.population import Population
from teams_app.domain.matching.solver import candidate_edges
from teams_app.domain.matching.types import Candidate, MatchHistory, MatchPlan, ProposedMatch
from teams_app.domain.model import MatchMember, Program, Role
from teams_app.domain.reasons import N_, Nn_, Reason

logger = logging.getLogger(__name__)

WAIT_FOR_TERM = ("the circles of this term are full or none fits you, so you join a circle when new circles "
                 "form at the start of the next term; you have priority then")
CONTINUES = N_("Your circle continues: session {session} of {total}.")
NEW_CIRCLE = N_("A new circle for this term: session {session} of {total}.")
LEFT = Nn_("{count} member left the circle.", "{count} members left the circle.")
CAME_BACK = Nn_("{count} member came back to the circle.", "{count} members came back to the circle.")
MERGED = N_("Two circles that had become too small were merged.")
REFILLED = Nn_("{count} new member joined to keep the circle at {lo} or more.",
               "{count} new members joined to keep the circle at {lo} or more.")
JOINED = Nn_("{count} new member joined the circle.", "{count} new members joined the circle.")
TAKEN_IN = Nn_("{count} member of a circle that became too small joined.",
               "{count} members of a circle that became too small joined.")


@dataclass(frozen=True)
class Circle:
    """A circle as it met in the previous session of this term."""

    members: tuple[str, ...]  # in rotation order: the previous facilitator first
    last_facilitated: Mapping[str, int] = field(default_factory=dict)  # member -> last session facilitated (term)
    returning: tuple[str, ...] = ()  # were in this circle earlier in the term, missed the last session (paused)


@dataclass
class _Building:
    members: list[int]
    previous: tuple[str, ...] = ()  # the members in the previous session's rotation order
    notes: list[Reason] = field(default_factory=list)
    continuing: bool = True


def rotation_order(member_ids: Sequence[str], last_facilitated: Mapping[str, int], previous: Sequence[str],
                   history: MatchHistory) -> list[str]:
    """The circle's members in facilitation order: the least recently facilitating first."""
    position = {pid: k for k, pid in enumerate(previous)}
    return sorted(member_ids, key=lambda pid: (last_facilitated.get(pid, 0), position.get(pid, len(position)),
                                               times_in_role(history, pid, Role.FACILITATOR), pid))


def with_rotation(match: ProposedMatch, order: Sequence[str]) -> ProposedMatch:
    """The match with its members in rotation order: the first is the facilitator, the rest members."""
    members = tuple(MatchMember(pid, Role.FACILITATOR if k == 0 else Role.MEMBER) for k, pid in enumerate(order))
    return replace(match, members=members)


def plan_circles(program: Program, candidates: Sequence[Candidate], history: MatchHistory, seed: int,
                 today: date, circles: Sequence[Circle], session: int) -> MatchPlan:
    """The circles of one session. ``circles`` are the previous session's (empty at the start of a term)."""
    people = order_candidates(candidates, seed)
    pop = Population.build(program, people, history, today)
    total = program.sessions_per_term
    if not circles:
        fresh = plan_groups(pop, history)
        matches = tuple(_fresh(m, history, session, total) for m in fresh.matches)
        quality = {**fresh.quality, "circles_new": float(len(matches))}
        return replace(fresh, matches=matches, quality=quality)
    return _continue(pop, people, history, today, circles, session, total)


def _fresh(match: ProposedMatch, history: MatchHistory, session: int, total: int) -> ProposedMatch:
    order = rotation_order([m.participant_id for m in match.members], {}, (), history)
    rotated = with_rotation(match, order)
    return replace(rotated, reasons=(Reason.of(NEW_CIRCLE, session=session, total=total), *match.reasons))


def _continue(pop: Population, people: Sequence[Candidate], history: MatchHistory, today: date,
              circles: Sequence[Circle], session: int, total: int) -> MatchPlan:
    policy = pop.program.policy
    lo, hi = policy.group_min, policy.group_max
    seen: set[int] = set()
    building: list[_Building] = []
    last_facilitated: dict[str, int] = {}
    counts = dict.fromkeys(("circles_continued", "circles_merged", "circles_refilled", "circles_dissolved",
                            "joined_circles", "waiting_for_term", "circles_new"), 0.0)
    for circle in circles:
        present = []
        for pid in circle.members:
            i = pop.index.get(pid)
            if i is not None and i not in seen:
                present.append(i)
                seen.add(i)
        last_facilitated.update(circle.last_facilitated)
        gone = len(circle.members) - len(present)
        back = 0
        for pid in circle.returning:  # back from a pause: their own circle, while it has room and they fit
            i = pop.index.get(pid)
            if i is not None and i not in seen and present and len(present) < hi \
                    and np.isfinite(_fits(pop, i, present)):
                present.append(i)
                seen.add(i)
                back += 1
        if present:
            notes = [Reason.of(LEFT, count=gone)] if gone else []
            if back:
                notes.append(Reason.of(CAME_BACK, count=back))
            building.append(_Building(present, circle.members, notes))
    waiting = [i for i in range(pop.n) if i not in seen]
    credit = np.minimum(pop.priority, 3)
    waiting.sort(key=lambda i: (-int(credit[i]), i))

    kept = [b for b in building if len(b.members) >= lo]
    small = sorted((b for b in building if len(b.members) < lo), key=lambda b: (len(b.members), b.previous))
    displaced: list[int] = []
    while small:
        current = small.pop(0)
        partner = _merge_partner(pop, current, small, hi)
        if partner is not None:
            small.remove(partner)
            merged = _Building(current.members + partner.members, current.previous + partner.previous,
                               current.notes + partner.notes + [Reason.of(MERGED)])
            counts["circles_merged"] += 1
            if len(merged.members) >= lo:
                kept.append(merged)
            else:
                small.append(merged)
                small.sort(key=lambda b: (len(b.members), b.previous))
            continue
        added = _fill(pop, current.members, waiting, lo)
        if len(current.members) >= lo:
            current.notes.append(Reason.of(REFILLED, count=len(added), lo=lo))
            counts["circles_refilled"] += 1
            kept.append(current)
        else:  # nobody to merge with or refill from: its members look for room elsewhere
            waiting.extend(added)
            displaced.extend(current.members)
            counts["circles_dissolved"] += 1

    for i in displaced:
        target = _room_for(pop, i, kept, hi)
        if target is None:
            waiting.insert(0, i)  # they were in the program already: first in line for a new circle
        else:
            target.members.append(i)
            target.notes.append(Reason.of(TAKEN_IN, count=1))
    still: list[int] = []
    for i in waiting:
        target = _room_for(pop, i, kept, hi)
        if target is None:
            still.append(i)
        else:
            target.members.append(i)
            target.notes.append(Reason.of(JOINED, count=1))
            counts["joined_circles"] += 1

    formed = [Formed(list(b.members), notes=_summarise(b.notes)) for b in kept]
    everyone = np.arange(pop.n, dtype=np.int64)
    _, _, _, best = candidate_edges(pop, everyone, None, 1) if pop.n > 1 else (None, None, None, np.zeros(pop.n))
    best_raw = {i: float(best[i]) for i in range(pop.n)}
    bound = sum(max(best_raw[i], 0.0) * (len(g.members) - 1) for g in formed for i in g.members
                if np.isfinite(best_raw[i])) / 2
    plan = finish_plan(pop, history, formed, [], best_raw, bound, 0)
    matches: list[ProposedMatch] = []
    for b, match in zip(kept, plan.matches, strict=True):
        ids = [pop.people[i].id for i in b.members]
        order = rotation_order(ids, last_facilitated, b.previous, history)
        reasons = [Reason.of(CONTINUES, session=session, total=total), *_circle_reasons(match, b)]
        matches.append(replace(with_rotation(match, order), reasons=tuple(dict.fromkeys(reasons))))
    counts["circles_continued"] = float(len(kept))

    unmatched: list[tuple[str, str]] = []
    needs = set(plan.needs_priority)
    if len(still) >= lo:  # enough newcomers for circles of their own, until the term ends
        sub = Population.build(pop.program, [people[i] for i in sorted(still)], history, today)
        extra = plan_groups(sub, history)
        matches += [_fresh(m, history, session, total) for m in extra.matches]
        counts["circles_new"] = float(len(extra.matches))
        unmatched += list(extra.unmatched)
        needs |= set(extra.needs_priority)
    else:
        unmatched += [(pop.people[i].id, WAIT_FOR_TERM) for i in still]
        needs |= {pop.people[i].id for i in still}
    counts["waiting_for_term"] = float(len(still)) if len(still) < lo else 0.0
    quality = {**plan.quality, **counts, "matches": float(len(matches)), "byes": float(len(unmatched)),
               "unmatched": float(len(unmatched))}
    return MatchPlan(tuple(matches), tuple(unmatched), quality, tuple(sorted(needs)))


def _circle_reasons(match: ProposedMatch, building: _Building) -> list[Reason]:
    """The match's reasons without the "you met N rounds ago" lines (a circle meets again on purpose), the
    circle's changes first."""
    notes = _summarise(building.notes)
    return notes + [r for r in match.reasons if r not in notes and r.template not in HISTORY]


def _summarise(notes: Sequence[Reason]) -> list[Reason]:
    """'1 new member joined' twice reads as '2 new members joined'."""
    out: list[Reason] = []
    tallies: dict[tuple[str, str], int] = {}
    for note in notes:
        for template in (JOINED, TAKEN_IN):
            if note == Reason.of(template, count=1):
                tallies[template] = tallies.get(template, 0) + 1
                break
        else:
            out.append(note)
    out += [Reason.of(template, count=count) for template, count in tallies.items()]
    return out


def _fits(pop: Population, person: int, members: Sequence[int]) -> float:
    """The person's total raw score with every member, -inf when a hard constraint rules one pair out."""
    if not members:
        return 0.0
    w = pop.pair_weights(np.full(len(members), person), np.array(members, dtype=np.int64), adjusted=False)
    return float(w.sum()) if np.isfinite(w).all() else float("-inf")


def _merge_partner(pop: Population, current: _Building, others: Sequence[_Building],
                   hi: int) -> _Building | None:
    """The small circle that fits ``current`` best (all pairs feasible, together at most ``hi``)."""
    best: tuple[float, _Building] | None = None
    for other in others:
        if len(current.members) + len(other.members) > hi:
            continue
        total = sum(_fits(pop, i, current.members) for i in other.members)
        if np.isfinite(total) and (best is None or total > best[0]):
            best = (total, other)
    return best[1] if best else None


def _fill(pop: Population, members: list[int], waiting: list[int], target: int) -> list[int]:
    """Add the best-fitting waiting people until ``target`` (removed from ``waiting``)."""
    added: list[int] = []
    while len(members) < target:
        scored = [(_fits(pop, i, members), -k, i) for k, i in enumerate(waiting)]
        scored = [s for s in scored if np.isfinite(s[0])]
        if not scored:
            break
        pick = max(scored)[2]
        waiting.remove(pick)
        members.append(pick)
        added.append(pick)
    return added


def _room_for(pop: Population, person: int, circles: Sequence[_Building], hi: int) -> _Building | None:
    """The circle with room that ``person`` fits (every member) and adds the most to; smaller circles first
    on a tie, so newcomers spread out. One vectorised score call over every open circle's members."""
    open_circles = [k for k, circle in enumerate(circles) if circle.members and len(circle.members) < hi]
    if not open_circles:
        return None
    owners = np.concatenate([np.full(len(circles[k].members), k) for k in open_circles])
    others = np.concatenate([np.array(circles[k].members, dtype=np.int64) for k in open_circles])
    weights = pop.pair_weights(np.full(len(others), person), others, adjusted=False)
    totals = np.zeros(len(circles))
    np.add.at(totals, owners, weights)  # -inf where any member conflicts
    candidates = np.array(open_circles)
    gains = totals[candidates]
    if not np.isfinite(gains).any():
        return None
    sizes = np.array([len(circles[k].members) for k in open_circles])
    order = np.lexsort((sizes, -np.where(np.isfinite(gains), gains, -np.inf)))  # best gain, then smallest
    return circles[int(candidates[order[0]])]
