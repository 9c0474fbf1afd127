"""Peer assessment: rubrics, reviewer allocation, the review lifecycle, release rules, aggregation, feedback.

Plain Python plus numpy, no I/O (the two built-in rubrics are package data read on first use). Every check
raises :class:`InvalidInput`/:class:`InvalidInputs` naming the field, so the rubric card, a YAML rubric and
the CLI report the same problems.

Anonymity is a property of the data this module hands out: :class:`FeedbackView` carries no reviewer id,
email or name unless the assessment is named; only :class:`AdminView` rows (built by the service) may.

The calibrated estimate follows the PG1 model of Piech et al. 2013 ("Tuned models of peer assessment in
MOOCs"): reviewer ``v`` reports ``z_uv ~ N(s_u + b_v, 1/tau_v)`` about person ``u`` with true score
``s_u ~ N(mu, 1/gamma)``, bias ``b_v ~ N(0, 1/eta)`` and reliability ``tau_v ~ Gamma(alpha, beta)``. We fit it
by EM-style alternating updates (Gaussian posteriors for scores and biases using leave-one-out messages,
posterior-mean reliabilities, empirical-Bayes hyper-parameters), vectorised with ``np.bincount``.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import logging
import math
import random
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import yaml

from teams_app.domain.errors import InvalidInput, InvalidInputs, InvalidTransition, NotAllowed
from teams_app.domain.model import MAX_TEXT, CoachingFramework, Match, Participant, new_id, stable_id

logger = logging.getLogger(__name__)

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_CRITERIA = 30
MAX_LEVELS = 12
MAX_REVIEWERS = 10
MAX_REASON = 500


# ---------------------------------------------------------------------------------------------------------
# Rubrics
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Level:
    value: int
    label: str
    descriptor: str = ""


@dataclass(frozen=True)
class Criterion:
    id: str
    name: str
    levels: tuple[Level, ...]
    description: str = ""
    weight: float = 1.0
    next_steps: tuple[str, ...] = ()

    @property
    def min_level(self) -> int:
        return self.levels[0].value

    @property
    def max_level(self) -> int:
        return self.levels[-1].value

    def level(self, value: int) -> Level:
        for level in self.levels:
            if level.value == value:
                return level
        raise KeyError(value)

    def nearest_level(self, score: float) -> Level:
        return min(self.levels, key=lambda lv: (abs(lv.value - score), lv.value))

    def normalised(self, score: float) -> float:
        """Score on 0..1 (min level -> 0, max level -> 1)."""
        return (score - self.min_level) / (self.max_level - self.min_level)


@dataclass(frozen=True)
class Score:
    """A weighted rubric score on its own scale (what xAPI ``result.score`` carries)."""

    raw: float
    min: float
    max: float

    @property
    def scaled(self) -> float:
        return round((self.raw - self.min) / (self.max - self.min), 4)


@dataclass(frozen=True)
class Rubric:
    id: str
    name: str
    criteria: tuple[Criterion, ...]
    description: str = ""
    version: int = 1

    def criterion(self, criterion_id: str) -> Criterion:
        for criterion in self.criteria:
            if criterion.id == criterion_id:
                return criterion
        raise KeyError(criterion_id)

    def score(self, levels: Mapping[str, float]) -> Score:
        """Weighted sum of the levels, with the weighted sums of the lowest and highest levels as bounds."""
        raw = sum(c.weight * float(levels[c.id]) for c in self.criteria)
        low = sum(c.weight * c.min_level for c in self.criteria)
        high = sum(c.weight * c.max_level for c in self.criteria)
        return Score(round(raw, 4), round(low, 4), round(high, 4))

    # -- validation of a submitted review -----------------------------------------------------------
    def validate_submission(self, ratings: Mapping[str, object], comments: Mapping[str, object] | None = None,
                            comment: object = "") -> ReviewSubmission:
        """Check a review against the rubric; every problem is reported at once, each naming its field."""
        problems: list[InvalidInput] = []
        known = {c.id for c in self.criteria}
        clean: dict[str, int] = {}
        for criterion in self.criteria:
            name = f"ratings.{criterion.id}"
            raw = ratings.get(criterion.id)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                problems.append(InvalidInput(name, f"choose a level for '{criterion.name}'"))
                continue
            value = _as_int(raw)
            allowed = [lv.value for lv in criterion.levels]
            if value is None or value not in allowed:
                problems.append(InvalidInput(
                    name, f"'{raw}' is not a level of '{criterion.name}': choose one of "
                          f"{', '.join(str(v) for v in allowed)}"))
                continue
            clean[criterion.id] = value
        for extra in sorted(set(ratings) - known):
            problems.append(InvalidInput(f"ratings.{extra}", "is not a criterion of this rubric"))
        clean_comments: dict[str, str] = {}
        for key, text in (comments or {}).items():
            name = f"comments.{key}"
            if key not in known:
                problems.append(InvalidInput(name, "is not a criterion of this rubric"))
                continue
            problem = _text_problem(text)
            if problem:
                problems.append(InvalidInput(name, problem))
            elif str(text).strip():
                clean_comments[key] = str(text).strip()
        problem = _text_problem(comment)
        if problem:
            problems.append(InvalidInput("comment", problem))
        if problems:
            raise InvalidInputs(problems)
        return ReviewSubmission(clean, clean_comments, str(comment or "").strip())

    # -- (de)serialisation ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "description": self.description, "version": self.version,
            "criteria": [
                {"id": c.id, "name": c.name, "description": c.description, "weight": c.weight,
                 "levels": [{"value": lv.value, "label": lv.label, "descriptor": lv.descriptor} for lv in c.levels],
                 "next_steps": list(c.next_steps)}
                for c in self.criteria
            ],
        }

    @staticmethod
    def from_dict(data: object) -> Rubric:
        """Build and validate a rubric from parsed YAML/JSON; all problems are raised together."""
        if not isinstance(data, Mapping):
            raise InvalidInput("rubric", "must be a mapping with id, name and criteria")
        problems: list[InvalidInput] = []
        rubric_id = str(data.get("id") or "").strip()
        if not SLUG_RE.match(rubric_id):
            problems.append(InvalidInput("id", "use 1-64 lower-case letters, digits, '-' or '_'"))
        name = str(data.get("name") or "").strip()
        if not name:
            problems.append(InvalidInput("name", "a rubric needs a name"))
        version = _as_int(data.get("version", 1))
        if version is None or version < 1:
            problems.append(InvalidInput("version", "must be a whole number >= 1"))
        raw_criteria = data.get("criteria")
        criteria: list[Criterion] = []
        if not isinstance(raw_criteria, list) or not raw_criteria:
            problems.append(InvalidInput("criteria", "list at least one criterion"))
        elif len(raw_criteria) > MAX_CRITERIA:
            problems.append(InvalidInput("criteria", f"at most {MAX_CRITERIA} criteria"))
        else:
            seen: set[str] = set()
            for index, raw in enumerate(raw_criteria):
                criterion = _criterion_from(raw, f"criteria[{index}]", problems)
                if criterion is None:
                    continue
                if criterion.id in seen:
                    problems.append(InvalidInput(f"criteria[{index}].id", f"'{criterion.id}' is used twice"))
                seen.add(criterion.id)
                criteria.append(criterion)
        if problems:
            raise InvalidInputs(problems)
        return Rubric(rubric_id, name, tuple(criteria), str(data.get("description") or "").strip(), version or 1)


def _criterion_from(raw: object, where: str, problems: list[InvalidInput]) -> Criterion | None:
    if not isinstance(raw, Mapping):
        problems.append(InvalidInput(where, "must be a mapping with id, name, weight and levels"))
        return None
    before = len(problems)
    cid = str(raw.get("id") or "").strip()
    if not SLUG_RE.match(cid):
        problems.append(InvalidInput(f"{where}.id", "use 1-64 lower-case letters, digits, '-' or '_'"))
    name = str(raw.get("name") or "").strip()
    if not name:
        problems.append(InvalidInput(f"{where}.name", "a criterion needs a name"))
    weight = _as_float(raw.get("weight", 1.0))
    if weight is None or not 0 < weight <= 100:
        problems.append(InvalidInput(f"{where}.weight", "must be a number above 0 and at most 100"))
    raw_levels = raw.get("levels")
    levels: list[Level] = []
    if not isinstance(raw_levels, list) or not 2 <= len(raw_levels) <= MAX_LEVELS:
        problems.append(InvalidInput(f"{where}.levels", f"list 2 to {MAX_LEVELS} levels"))
    else:
        for li, level in enumerate(raw_levels):
            at = f"{where}.levels[{li}]"
            if not isinstance(level, Mapping):
                problems.append(InvalidInput(at, "must be a mapping with value, label and descriptor"))
                continue
            value = _as_int(level.get("value"))
            raw_label = level.get("label")
            label = "" if isinstance(raw_label, bool) else str(raw_label or "").strip()
            if value is None or not 0 <= value <= 100:
                problems.append(InvalidInput(f"{at}.value", "must be a whole number from 0 to 100"))
            elif levels and value <= levels[-1].value:
                problems.append(InvalidInput(f"{at}.value", "level values must increase"))
            if isinstance(raw_label, bool):
                problems.append(InvalidInput(f"{at}.label", "put the label in quotes (YAML reads yes/no/on/off as "
                                                            "true/false)"))
            elif not label:
                problems.append(InvalidInput(f"{at}.label", "a level needs a label"))
            if value is not None and label:
                levels.append(Level(value, label, str(level.get("descriptor") or "").strip()))
    steps = raw.get("next_steps") or []
    if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
        problems.append(InvalidInput(f"{where}.next_steps", "must be a list of sentences"))
        steps = []
    if len(problems) > before:
        return None
    return Criterion(cid, name, tuple(levels), str(raw.get("description") or "").strip(), float(weight or 1.0),
                     tuple(s.strip() for s in steps if s.strip()))


def parse_rubric(text: str, *, fmt: str = "yaml") -> Rubric:
    """Parse rubric text (``fmt`` 'yaml' or 'json'); syntax errors become InvalidInput('rubric', ...)."""
    try:
        data = json.loads(text) if fmt == "json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InvalidInput("rubric", f"cannot read the {fmt.upper()}: {exc}") from None
    return Rubric.from_dict(data)


BUILTIN_RUBRICS = ("coaching-skills", "skill-demonstration")


@cache
def builtin_rubric(rubric_id: str) -> Rubric:
    """One of the default rubrics shipped as package data (read on first use, then cached)."""
    if rubric_id not in BUILTIN_RUBRICS:
        raise InvalidInput("rubric", f"unknown rubric '{rubric_id}': choose one of {', '.join(BUILTIN_RUBRICS)}")
    text = resources.files("teams_app.domain").joinpath("rubrics", f"{rubric_id}.yaml").read_text("utf-8")
    return parse_rubric(text)


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _as_float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def _text_problem(text: object) -> str:
    if text is None:
        return ""
    if not isinstance(text, str):
        return "must be text"
    if len(text) > MAX_TEXT:
        return f"at most {MAX_TEXT} characters (you wrote {len(text)})"
    return ""


@dataclass(frozen=True)
class ReviewSubmission:
    """A review that passed the rubric's checks."""

    ratings: Mapping[str, int]
    comments: Mapping[str, str] = field(default_factory=dict)
    comment: str = ""


# ---------------------------------------------------------------------------------------------------------
# Allocation
# ---------------------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------------------
# Lifecycle
# ---------------------------------------------------------------------------------------------------------
class LatePolicy(StrEnum):
    REJECT = "reject"  # nothing after the deadline (unless an admin allows it for one review)
    GRACE = "grace"  # accepted during the grace period, marked late
    ACCEPT = "accept"  # accepted until results are released, marked late


class AssessmentStatus(StrEnum):
    OPEN = "open"
    RELEASED = "released"


class ReviewStatus(StrEnum):
    PENDING = "pending"
    SUBMITTED = "submitted"
    WITHDRAWN = "withdrawn"
    EXCLUDED = "excluded"  # set aside by an admin (e.g. careless); never counted


@dataclass(frozen=True)
class Assessment:
    id: str
    program_id: str
    round_id: str
    rubric: Rubric
    mode: AllocationMode
    opened_at: datetime
    deadline: datetime
    seed: int
    reviewers_per_person: int = 3
    self_assessment: bool = False
    min_reviews: int = 3  # k
    named_feedback: bool = False  # reviewers' names shown to the assessed person (partner/circle only)
    admin_sees_names: bool = False
    late_policy: LatePolicy = LatePolicy.REJECT
    grace_hours: int = 0
    reminder_hours: tuple[int, ...] = (48, 24)  # reminders this many hours before the deadline
    status: AssessmentStatus = AssessmentStatus.OPEN
    released_at: datetime | None = None

    def validated(self) -> Assessment:
        problems: list[InvalidInput] = []
        if self.deadline.tzinfo is None:
            problems.append(InvalidInput("deadline", "needs a time zone"))
        elif self.deadline <= self.opened_at:
            problems.append(InvalidInput("deadline", "must be after the assessment opens"))
        if not 1 <= self.min_reviews <= 20:
            problems.append(InvalidInput("min_reviews", "must be between 1 and 20"))
        if not 1 <= self.reviewers_per_person <= MAX_REVIEWERS:
            problems.append(InvalidInput("reviewers_per_person", f"must be between 1 and {MAX_REVIEWERS}"))
        if not 0 <= self.grace_hours <= 24 * 30:
            problems.append(InvalidInput("grace_hours", "must be between 0 and 720"))
        if any(not 1 <= h <= 24 * 60 for h in self.reminder_hours):
            problems.append(InvalidInput("reminder_hours", "each must be between 1 and 1440 hours"))
        if self.named_feedback and self.mode is AllocationMode.PEERS:
            problems.append(InvalidInput("named_feedback", "only partner or circle feedback can be named"))
        if problems:
            raise InvalidInputs(problems)
        return self

    @property
    def threshold(self) -> int:
        """Reviews a person needs before their results are released (k; 1 when feedback is named)."""
        return 1 if self.named_feedback else self.min_reviews

    def accepts_late(self, now: datetime, allow_late_until: datetime | None = None) -> bool:
        if allow_late_until is not None and now <= allow_late_until:
            return True
        if self.late_policy is LatePolicy.ACCEPT:
            return True
        return self.late_policy is LatePolicy.GRACE and now <= self.deadline + timedelta(hours=self.grace_hours)

    def require_open(self) -> None:
        if self.status is not AssessmentStatus.OPEN:
            raise InvalidTransition("results of this assessment were already released: reviews can no longer change")

    def extend_deadline(self, new_deadline: datetime, now: datetime) -> Assessment:
        self.require_open()
        if new_deadline.tzinfo is None:
            raise InvalidInput("deadline", "needs a time zone")
        if new_deadline <= max(now, self.opened_at):
            raise InvalidInput("deadline", "must be in the future")
        return replace(self, deadline=new_deadline)

    @property
    def closes_at(self) -> datetime:
        """When the scheduler may release: the deadline, plus the grace period under the grace policy."""
        if self.late_policy is LatePolicy.GRACE:
            return self.deadline + timedelta(hours=self.grace_hours)
        return self.deadline

    def release(self, now: datetime, *, early: bool = False) -> Assessment:
        self.require_open()
        if now < self.deadline and not early:
            raise InvalidTransition(f"the deadline ({self.deadline:%Y-%m-%d %H:%M} UTC) has not passed yet")
        return replace(self, status=AssessmentStatus.RELEASED, released_at=now)

    def reminder_times(self) -> list[datetime]:
        """The reminder moments that fall inside the open window, earliest first."""
        times = {self.deadline - timedelta(hours=h) for h in self.reminder_hours}
        return sorted(t for t in times if t > self.opened_at)


@dataclass(frozen=True)
class Review:
    id: str
    assessment_id: str
    reviewer_id: str
    reviewee_id: str
    kind: ReviewKind = ReviewKind.PEER
    status: ReviewStatus = ReviewStatus.PENDING
    ratings: Mapping[str, int] = field(default_factory=dict)
    comments: Mapping[str, str] = field(default_factory=dict)
    comment: str = ""
    version: int = 0  # bumped by every (re)submission; the xAPI statement key includes it
    submitted_at: datetime | None = None
    late: bool = False
    reminders_sent: int = 0
    allow_late_until: datetime | None = None
    excluded_reason: str = ""

    @staticmethod
    def for_assignment(assessment_id: str, assignment: Assignment) -> Review:
        rid = stable_id(assessment_id, "review", assignment.reviewer_id, assignment.reviewee_id, assignment.kind)
        return Review(rid, assessment_id, assignment.reviewer_id, assignment.reviewee_id, assignment.kind)

    @property
    def counted(self) -> bool:
        return self.status is ReviewStatus.SUBMITTED

    @property
    def statement_key(self) -> str:
        """Stable key of the current version's ``reviewed`` statement (voided on withdrawal or edit)."""
        return f"assessment-review/{self.id}/v{self.version}"

    def check_window(self, assessment: Assessment, now: datetime) -> bool:
        """Raise unless this review may be (re)submitted now; return whether it would be late."""
        assessment.require_open()
        if self.status is ReviewStatus.EXCLUDED:
            raise InvalidTransition("an admin set this review aside; it cannot be changed")
        late = now > assessment.deadline
        if late:
            if self.status is ReviewStatus.SUBMITTED:
                raise InvalidTransition(
                    f"the deadline ({assessment.deadline:%Y-%m-%d %H:%M} UTC) has passed: your review can no "
                    "longer be edited")
            if not assessment.accepts_late(now, self.allow_late_until):
                raise InvalidTransition(
                    f"the deadline ({assessment.deadline:%Y-%m-%d %H:%M} UTC) has passed and late reviews are not "
                    "accepted: ask the program admin if you still want to submit")
        return late

    def submit(self, assessment: Assessment, submission: ReviewSubmission, now: datetime) -> Review:
        """Submit or edit. Edits are allowed until the deadline; late first submissions follow the policy."""
        late = self.check_window(assessment, now)
        return replace(self, status=ReviewStatus.SUBMITTED, ratings=dict(submission.ratings),
                       comments=dict(submission.comments), comment=submission.comment, version=self.version + 1,
                       submitted_at=now, late=late)

    def withdraw(self, assessment: Assessment) -> Review:
        assessment.require_open()
        if self.status is not ReviewStatus.SUBMITTED:
            raise InvalidTransition("only a submitted review can be withdrawn")
        return replace(self, status=ReviewStatus.WITHDRAWN)

    def exclude(self, reason: str) -> Review:
        if self.status is ReviewStatus.EXCLUDED:
            raise InvalidTransition("this review is already set aside")
        return replace(self, status=ReviewStatus.EXCLUDED, excluded_reason=reason)

    def reinstate(self) -> Review:
        if self.status is not ReviewStatus.EXCLUDED:
            raise InvalidTransition("only a review set aside can be reinstated")
        status = ReviewStatus.SUBMITTED if self.version else ReviewStatus.PENDING
        return replace(self, status=status, excluded_reason="")


def reminders_due(assessment: Assessment, reviews: Iterable[Review], now: datetime) -> list[tuple[Review, int]]:
    """Pending reviews whose next reminder moment has passed: (review, how many reminder moments passed).

    One reminder per call even if several moments passed (a scheduler that was down sends one, not three).
    """
    if assessment.status is not AssessmentStatus.OPEN or now >= assessment.deadline:
        return []
    passed = sum(1 for t in assessment.reminder_times() if t <= now)
    return [(r, passed) for r in reviews
            if r.status in (ReviewStatus.PENDING, ReviewStatus.WITHDRAWN) and r.reminders_sent < passed]


@dataclass(frozen=True)
class AuditEntry:
    id: str
    assessment_id: str
    actor: str
    action: str
    reason: str
    at: datetime
    target: str = ""  # a review id, or "" for the whole assessment
    details: Mapping[str, str] = field(default_factory=dict)

    @staticmethod
    def create(assessment_id: str, actor: str, action: str, reason: str, at: datetime, target: str = "",
               details: Mapping[str, str] | None = None) -> AuditEntry:
        reason = (reason or "").strip()
        if not actor.strip():
            raise InvalidInput("actor", "an override needs the admin who made it")
        if not reason:
            raise InvalidInput("reason", "say why you override (it is kept in the audit trail)")
        if len(reason) > MAX_REASON:
            raise InvalidInput("reason", f"at most {MAX_REASON} characters")
        # A fresh id: two overrides can share action, target and second; the trail keeps both.
        return AuditEntry(new_id(), assessment_id, actor, action, reason, at, target, dict(details or {}))


def require_reviewer(review: Review, participant_id: str) -> None:
    if review.reviewer_id != participant_id:
        raise NotAllowed("this review was assigned to someone else")


# ---------------------------------------------------------------------------------------------------------
# Calibration: PG1 (Piech et al. 2013)
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CalibrationFit:
    score: np.ndarray  # posterior mean per item
    uncertainty: np.ndarray  # posterior standard deviation per item
    bias: np.ndarray  # per reviewer (positive: lenient)
    noise_sd: np.ndarray  # per reviewer: 1/sqrt(reliability)
    iterations: int


def fit_reviewer_model(item: np.ndarray, reviewer: np.ndarray, value: np.ndarray, *, n_items: int,
                       n_reviewers: int, group: np.ndarray | None = None, prior_strength: float = 5.0,
                       noise_floor: float = 0.0, max_iter: int = 100, tol: float = 1e-4) -> CalibrationFit:
    """Fit PG1 by EM with leave-one-out messages; ``group`` (per item) gives each group its own score prior.

    Each reviewer's bias and noise are estimated against *leave-one-out* scores: the estimate of the person's
    score from the other reviewers only. Plain mean-field EM compares a reviewer with a score their own review
    pulled towards them, which shrinks biases and flatters noisy reviewers; with 3-5 reviews per person that
    cut the gain over the mean from 17% to 13% in the benchmark's cohort.

    ``prior_strength`` is the reliability prior's weight in pseudo-observations: reviewers with few reviews
    are pulled towards the pooled noise level instead of being trusted (or dismissed) on three numbers.
    ``noise_floor`` is the smallest variance believed for the pooled noise and for the spread of true scores
    (e.g. the rounding error of a level scale), so perfect agreement on a coarse scale does not read as
    certainty.
    """
    item = np.asarray(item, dtype=np.int64)
    reviewer = np.asarray(reviewer, dtype=np.int64)
    z = np.asarray(value, dtype=np.float64)
    if not (item.shape == reviewer.shape == z.shape) or z.ndim != 1:
        raise ValueError("item, reviewer and value must be 1-D arrays of the same length")
    groups = np.zeros(n_items, dtype=np.int64) if group is None else np.asarray(group, dtype=np.int64)
    n_groups = int(groups.max()) + 1 if n_items else 1
    n_v = np.bincount(reviewer, minlength=n_reviewers).astype(np.float64)
    n_u = np.bincount(item, minlength=n_items).astype(np.float64)
    floor = max(float(np.var(z)) * 1e-4 if z.size else 0.0, 1e-6, noise_floor)
    s = np.bincount(item, weights=z, minlength=n_items) / np.maximum(n_u, 1.0)
    b: np.ndarray = np.zeros(n_reviewers)
    pv_b: np.ndarray = np.zeros(n_reviewers)
    pooled = max(float(np.mean((z - s[item]) ** 2)) if z.size else 1.0, floor)
    tau = np.full(n_reviewers, 1.0 / pooled)
    mu, var_s = _group_moments(s, np.zeros(n_items), groups, n_groups, floor)
    var_b = pooled / 4.0
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        w = tau[reviewer]
        precision = 1.0 / var_s[groups] + np.bincount(item, weights=w, minlength=n_items)
        total = mu[groups] / var_s[groups] + np.bincount(item, weights=w * (z - b[reviewer]), minlength=n_items)
        # The person's score without this review (its message removed), and how uncertain that is.
        loo_precision = precision[item] - w
        loo_score = (total[item] - w * (z - b[reviewer])) / loo_precision
        loo_var = 1.0 / loo_precision
        # Bias: each review measures it as z - loo_score, with variance noise + loo_var.
        gap_var = 1.0 / w + loo_var
        prec_b = 1.0 / var_b + np.bincount(reviewer, weights=1.0 / gap_var, minlength=n_reviewers)
        b = np.bincount(reviewer, weights=(z - loo_score) / gap_var, minlength=n_reviewers) / prec_b
        pv_b = 1.0 / prec_b
        # Reliability: squared residuals minus the part explained by not knowing the score.
        r2 = np.maximum((z - loo_score - b[reviewer]) ** 2 - loo_var, 0.0)
        ss = np.bincount(reviewer, weights=r2, minlength=n_reviewers)
        pooled = max(float(ss.sum() / max(n_v.sum(), 1.0)), floor)
        tau = (prior_strength + n_v / 2.0) / (prior_strength * pooled + ss / 2.0)
        s_new = total / precision
        mu, var_s = _group_moments(s_new, 1.0 / precision, groups, n_groups, floor)
        var_b = max(float(np.mean(b ** 2 + pv_b)) if n_reviewers else floor, 1e-6)
        change = float(np.max(np.abs(s_new - s))) if n_items else 0.0
        s = s_new
        if change < tol * math.sqrt(pooled):
            break
    w = tau[reviewer]
    precision = 1.0 / var_s[groups] + np.bincount(item, weights=w, minlength=n_items)
    s = (mu[groups] / var_s[groups] + np.bincount(item, weights=w * (z - b[reviewer]), minlength=n_items)) / precision
    # Uncertainty of the score plus what the subtracted biases are still unsure about.
    bias_var = np.bincount(item, weights=w ** 2 * pv_b[reviewer], minlength=n_items) / precision ** 2
    return CalibrationFit(s, np.sqrt(1.0 / precision + bias_var), b, 1.0 / np.sqrt(tau), iterations)


def _group_moments(s: np.ndarray, pv: np.ndarray, groups: np.ndarray, n_groups: int,
                   floor: float) -> tuple[np.ndarray, np.ndarray]:
    count = np.maximum(np.bincount(groups, minlength=n_groups).astype(np.float64), 1.0)
    mu = np.bincount(groups, weights=s, minlength=n_groups) / count
    var = np.bincount(groups, weights=(s - mu[groups]) ** 2 + pv, minlength=n_groups) / count
    return mu, np.maximum(var, floor)


# ---------------------------------------------------------------------------------------------------------
# Aggregation and careless-reviewer flags
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CriterionResult:
    criterion_id: str
    n: int
    mean: float | None
    median: float | None
    calibrated: float | None
    uncertainty: float | None
    self_level: int | None = None


@dataclass(frozen=True)
class PersonResult:
    reviewee_id: str
    n_reviews: int
    criteria: tuple[CriterionResult, ...]
    score: Score | None  # weighted calibrated score (mean where not calibrated); None without peer reviews

    def criterion(self, criterion_id: str) -> CriterionResult:
        for result in self.criteria:
            if result.criterion_id == criterion_id:
                return result
        raise KeyError(criterion_id)


class FlagKind(StrEnum):
    UNIFORM_LEVELS = "uniform_levels"
    EXTREME_OUTLIER = "extreme_outlier"
    LOW_RELIABILITY = "low_reliability"


@dataclass(frozen=True)
class CarelessFlag:
    reviewer_id: str
    kind: FlagKind
    detail: str
    review_id: str = ""


@dataclass(frozen=True)
class ReviewerStat:
    reviewer_id: str
    n_reviews: int
    bias: float  # in levels: positive = more lenient than the consensus
    noise_sd: float  # in levels


@dataclass(frozen=True)
class AggregateReport:
    results: Mapping[str, PersonResult]
    reviewers: Mapping[str, ReviewerStat]
    flags: tuple[CarelessFlag, ...]


OUTLIER_SHARE = 0.5  # a review at least half the scale away from the others' median, on average
LOW_RELIABILITY_RATIO = 2.5  # noise sd this many times the median reviewer's


def aggregate(rubric: Rubric, reviews: Iterable[Review]) -> AggregateReport:
    """Mean, median and calibrated estimate per person and criterion, plus careless-reviewer flags.

    Only submitted reviews count. Self-assessments are reported beside the peer view, never mixed in.
    The calibration runs on all peer ratings of the assessment at once, normalised to 0..100 per criterion,
    so a reviewer's leniency and consistency are learned across every person and criterion they rated.
    """
    counted = [r for r in reviews if r.counted]
    peer = [r for r in counted if r.kind is ReviewKind.PEER]
    selves = {r.reviewee_id: r for r in counted if r.kind is ReviewKind.SELF}
    people = sorted({r.reviewee_id for r in peer} | set(selves))
    reviewer_ids = sorted({r.reviewer_id for r in peer})
    crit_index = {c.id: i for i, c in enumerate(rubric.criteria)}
    person_index = {p: i for i, p in enumerate(people)}
    reviewer_index = {v: i for i, v in enumerate(reviewer_ids)}

    items: list[int] = []
    raters: list[int] = []
    values: list[float] = []
    raw: dict[tuple[str, str], list[int]] = defaultdict(list)
    for review in peer:
        for criterion in rubric.criteria:
            level = review.ratings.get(criterion.id)
            if level is None:
                continue
            raw[(review.reviewee_id, criterion.id)].append(level)
            items.append(person_index[review.reviewee_id] * len(rubric.criteria) + crit_index[criterion.id])
            raters.append(reviewer_index[review.reviewer_id])
            values.append(100.0 * criterion.normalised(level))
    n_items = len(people) * len(rubric.criteria)
    fit: CalibrationFit | None = None
    if values:
        # Rounding a judgement to the nearest level adds noise of variance step^2/12 (on the 0..100 scale).
        rounding = statistics.fmean((100.0 / (len(c.levels) - 1)) ** 2 / 12.0 for c in rubric.criteria)
        fit = fit_reviewer_model(np.array(items), np.array(raters), np.array(values), n_items=n_items,
                                 n_reviewers=len(reviewer_ids), group=np.arange(n_items) % len(rubric.criteria),
                                 noise_floor=rounding)

    received = Counter(r.reviewee_id for r in peer)
    written = Counter(r.reviewer_id for r in peer)
    results: dict[str, PersonResult] = {}
    for person in people:
        own = selves.get(person)
        per_criterion: list[CriterionResult] = []
        estimates: dict[str, float] = {}
        for criterion in rubric.criteria:
            levels = raw.get((person, criterion.id), [])
            span = criterion.max_level - criterion.min_level
            calibrated = uncertainty = None
            if levels and fit is not None:
                k = person_index[person] * len(rubric.criteria) + crit_index[criterion.id]
                calibrated = criterion.min_level + float(np.clip(fit.score[k], 0.0, 100.0)) / 100.0 * span
                uncertainty = float(fit.uncertainty[k]) / 100.0 * span
                estimates[criterion.id] = calibrated
            per_criterion.append(CriterionResult(
                criterion.id, len(levels),
                round(statistics.fmean(levels), 4) if levels else None,
                float(statistics.median(levels)) if levels else None,
                round(calibrated, 4) if calibrated is not None else None,
                round(uncertainty, 4) if uncertainty is not None else None,
                own.ratings.get(criterion.id) if own else None,
            ))
        n_reviews = received[person]
        score = rubric.score(estimates) if len(estimates) == len(rubric.criteria) else None
        results[person] = PersonResult(person, n_reviews, tuple(per_criterion), score)

    stats: dict[str, ReviewerStat] = {}
    if fit is not None:
        scale = {c.id: (c.max_level - c.min_level) / 100.0 for c in rubric.criteria}
        mean_scale = statistics.fmean(scale.values())
        for v, i in reviewer_index.items():
            stats[v] = ReviewerStat(v, written[v],
                                    round(float(fit.bias[i]) * mean_scale, 4),
                                    round(float(fit.noise_sd[i]) * mean_scale, 4))
    return AggregateReport(results, stats, tuple(careless_flags(rubric, peer, stats)))


def careless_flags(rubric: Rubric, peer_reviews: Sequence[Review],
                   stats: Mapping[str, ReviewerStat] | None = None) -> list[CarelessFlag]:
    flags: list[CarelessFlag] = []
    by_reviewer: dict[str, list[Review]] = defaultdict(list)
    for review in peer_reviews:
        by_reviewer[review.reviewer_id].append(review)
    for reviewer_id, reviews in sorted(by_reviewer.items()):
        levels = [lv for r in reviews for lv in r.ratings.values()]
        if len(reviews) >= 2 and len(rubric.criteria) >= 2 and len(set(levels)) == 1:
            flags.append(CarelessFlag(reviewer_id, FlagKind.UNIFORM_LEVELS,
                                      f"gave level {levels[0]} on every criterion in all {len(reviews)} reviews"))
    # Extreme outliers: far from what the other reviewers of the same person said, criterion by criterion.
    by_reviewee: dict[str, list[Review]] = defaultdict(list)
    for review in peer_reviews:
        by_reviewee[review.reviewee_id].append(review)
    for review in sorted(peer_reviews, key=lambda r: r.id):
        others = [o for o in by_reviewee[review.reviewee_id] if o.id != review.id]
        if len(others) < 2:
            continue
        gaps: list[float] = []
        for criterion in rubric.criteria:
            mine = review.ratings.get(criterion.id)
            theirs = [o.ratings[criterion.id] for o in others if criterion.id in o.ratings]
            if mine is None or len(theirs) < 2:
                continue
            gaps.append(abs(mine - statistics.median(theirs)) / (criterion.max_level - criterion.min_level))
        if gaps and statistics.fmean(gaps) >= OUTLIER_SHARE:
            flags.append(CarelessFlag(review.reviewer_id, FlagKind.EXTREME_OUTLIER,
                                      f"on average {statistics.fmean(gaps):.0%} of the scale away from the other "
                                      "reviewers of the same person", review.id))
    if stats:
        noisy = [s.noise_sd for s in stats.values()]
        typical = statistics.median(noisy)
        for stat in sorted(stats.values(), key=lambda s: s.reviewer_id):
            if stat.n_reviews >= 2 and typical > 0 and stat.noise_sd > LOW_RELIABILITY_RATIO * typical:
                flags.append(CarelessFlag(stat.reviewer_id, FlagKind.LOW_RELIABILITY,
                                          f"ratings {stat.noise_sd / typical:.1f}x as inconsistent as a typical "
                                          "reviewer's"))
    return flags


# ---------------------------------------------------------------------------------------------------------
# Release and feedback
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReleaseDecision:
    released: bool
    reason: str
    n_reviews: int
    needed: int


def release_decision(assessment: Assessment, peer_reviews_counted: int) -> ReleaseDecision:
    """k-threshold rule: anonymous results need at least k peer reviews, named ones at least one."""
    needed = assessment.threshold
    if peer_reviews_counted >= needed:
        return ReleaseDecision(True, "", peer_reviews_counted, needed)
    if assessment.named_feedback:
        reason = "no feedback was submitted for you this time"
    else:
        reason = (f"feedback stays anonymous, so it is shared only once at least {needed} reviews arrived; "
                  f"{peer_reviews_counted} did this time")
    return ReleaseDecision(False, reason, peer_reviews_counted, needed)


class Band(StrEnum):
    STRENGTH = "strength"
    GROWTH = "growth"
    STEADY = "steady"


@dataclass(frozen=True)
class CriterionFeedback:
    criterion_id: str
    name: str
    peer_score: float  # calibrated level (mean when not calibrated)
    peer_mean: float
    peer_median: float
    uncertainty: float | None
    level_label: str
    descriptor: str
    min_level: int
    max_level: int
    band: Band
    self_level: int | None = None
    self_label: str = ""

    @property
    def gap(self) -> float | None:
        """Self minus peers, in levels (positive: you rated yourself higher than your peers did)."""
        return None if self.self_level is None else round(self.self_level - self.peer_score, 2)


@dataclass(frozen=True)
class FeedbackComment:
    text: str
    criterion_id: str = ""
    author: str = ""  # only ever set when the assessment's feedback is named


@dataclass(frozen=True)
class FeedbackView:
    """What the assessed person sees. By construction it holds no reviewer ids, and names only if named."""

    assessment_id: str
    reviewee_id: str
    rubric_name: str
    released: bool
    message: str
    n_reviews: int = 0
    criteria: tuple[CriterionFeedback, ...] = ()
    strengths: tuple[str, ...] = ()
    growth_areas: tuple[str, ...] = ()
    comments: tuple[FeedbackComment, ...] = ()
    next_steps: tuple[str, ...] = ()
    score: Score | None = None
    named: bool = False


STRENGTH_AT = 0.75
GROWTH_BELOW = 0.5
RELATIVE_MARGIN = 0.1


def _bands(normalised: Mapping[str, float]) -> dict[str, Band]:
    """Absolute bands first (>= 75% strength, < 50% growth); otherwise the person's best and weakest criterion
    when it stands out from their own average by 10 points, so everyone gets a strength and a next step
    whenever their ratings differ at all."""
    if not normalised:
        return {}
    average = statistics.fmean(normalised.values())
    best = max(normalised, key=lambda c: (normalised[c], c))
    worst = min(normalised, key=lambda c: (normalised[c], c))
    bands: dict[str, Band] = {}
    for cid, value in normalised.items():
        if value >= STRENGTH_AT or (cid == best and value - average >= RELATIVE_MARGIN):
            bands[cid] = Band.STRENGTH
        elif value < GROWTH_BELOW or (cid == worst and average - value >= RELATIVE_MARGIN):
            bands[cid] = Band.GROWTH
        else:
            bands[cid] = Band.STEADY
    return bands


def build_feedback(assessment: Assessment, result: PersonResult | None, reviews: Sequence[Review], *,
                   framework: CoachingFramework | None = None,
                   reviewer_names: Mapping[str, str] | None = None) -> FeedbackView:
    """The assessed person's feedback: per criterion strengths and growth areas, self vs peer, comments without
    reviewer names (unless the feedback is named), and next steps from the rubric and the coaching framework.

    ``reviews`` are the submitted reviews about this person; ``reviewer_names`` is used only when named.
    """
    rubric = assessment.rubric
    reviewee = result.reviewee_id if result else (reviews[0].reviewee_id if reviews else "")
    decision = release_decision(assessment, result.n_reviews if result else 0)
    if assessment.status is not AssessmentStatus.RELEASED:
        return FeedbackView(assessment.id, reviewee, rubric.name, False,
                            "your feedback will be shared after the deadline")
    if result is None or not decision.released:
        return FeedbackView(assessment.id, reviewee, rubric.name, False, decision.reason,
                            n_reviews=decision.n_reviews)
    criteria: list[CriterionFeedback] = []
    normalised: dict[str, float] = {}
    for criterion in rubric.criteria:
        cr = result.criterion(criterion.id)
        if cr.mean is None or cr.median is None:
            continue
        estimate = cr.calibrated if cr.calibrated is not None else cr.mean
        normalised[criterion.id] = criterion.normalised(estimate)
        nearest = criterion.nearest_level(estimate)
        self_label = criterion.level(cr.self_level).label if cr.self_level is not None else ""
        criteria.append(CriterionFeedback(
            criterion.id, criterion.name, round(estimate, 2), round(cr.mean, 2), cr.median,
            cr.uncertainty, nearest.label, nearest.descriptor, criterion.min_level, criterion.max_level,
            Band.STEADY, cr.self_level, self_label))
    bands = _bands(normalised)
    criteria = [replace(c, band=bands[c.criterion_id]) for c in criteria]
    strengths = tuple(c.name for c in sorted(criteria, key=lambda c: -normalised[c.criterion_id])
                      if c.band is Band.STRENGTH)
    growth = [c for c in sorted(criteria, key=lambda c: normalised[c.criterion_id]) if c.band is Band.GROWTH]
    steps: list[str] = []
    for c in growth:
        steps.extend(rubric.criterion(c.criterion_id).next_steps[:2])
    if framework is not None and framework.stages:
        steps.extend(framework.stages[-1].prompts)  # e.g. GROW's "Way forward" questions
    named = assessment.named_feedback
    comments: list[FeedbackComment] = []
    for review in reviews:
        if not review.counted or review.kind is not ReviewKind.PEER:
            continue
        author = (reviewer_names or {}).get(review.reviewer_id, "") if named else ""
        if review.comment:
            comments.append(FeedbackComment(review.comment, "", author))
        for cid, text in review.comments.items():
            comments.append(FeedbackComment(text, cid, author))
    if not named:
        # Order must not reveal who wrote what (submission order, reviewer ids): sort by a keyed hash.
        comments.sort(key=lambda c: hashlib.sha256(f"{assessment.id}/{c.criterion_id}/{c.text}".encode()).digest())
    else:
        comments.sort(key=lambda c: (c.author, c.criterion_id, c.text))
    return FeedbackView(assessment.id, reviewee, rubric.name, True, "", result.n_reviews, tuple(criteria),
                        strengths, tuple(c.name for c in growth), tuple(comments), tuple(dict.fromkeys(steps)),
                        result.score, named)
