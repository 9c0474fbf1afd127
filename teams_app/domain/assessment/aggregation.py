"""Results per person and criterion (mean, median, calibrated estimate, self-assessment beside them) and
careless-reviewer flags (uniform levels, extreme outliers, low reliability)."""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np

from teams_app.domain.assessment.allocation import ReviewKind
from teams_app.domain.assessment.calibration import CalibrationFit, fit_reviewer_model
from teams_app.domain.assessment.lifecycle import Review
from teams_app.domain.assessment.rubric import Rubric, Score


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


MODEL_MIN_RATINGS = 3  # below this many ratings of a criterion, the uncertainty is at least the prior's
PRIOR_NOISE_SHARE = 0.25  # prior sd of one peer rating around the true level, as a share of the scale
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
                if len(levels) < MODEL_MIN_RATINGS:
                    # Too few ratings to learn anything about their reviewers: what one or two people said
                    # is as uncertain as a typical peer rater is noisy (prior, see docs/assessment.md).
                    uncertainty = max(uncertainty, PRIOR_NOISE_SHARE * span / math.sqrt(len(levels)))
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
        # Criteria nobody could judge ("can't judge") are left out of the score rather than sinking it.
        rated = tuple(c for c in rubric.criteria if c.id in estimates)
        score = replace(rubric, criteria=rated).score(estimates) if rated else None
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
