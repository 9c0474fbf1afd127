"""Aggregation (mean, median, calibrated PG1 estimate), careless flags, the k threshold and the feedback view."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from teams_app.adapters.rubric_files import builtin_rubric
from teams_app.domain.assessment import (
    AllocationMode,
    Assessment,
    Assignment,
    Band,
    FlagKind,
    Review,
    ReviewKind,
    ReviewSubmission,
    aggregate,
    build_feedback,
    fit_reviewer_model,
    release_decision,
)
from teams_app.domain.model import GROW

OPENED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DEADLINE = OPENED + timedelta(days=7)
RUBRIC = builtin_rubric("coaching-skills")
CRITERIA = [c.id for c in RUBRIC.criteria]


def assessment(**changes: object) -> Assessment:
    base = Assessment("a1", "prog", "r1", RUBRIC, AllocationMode.PEERS, OPENED, DEADLINE, seed=1)
    return replace(base, **changes).validated()  # type: ignore[arg-type]


def submitted(reviewer: str, reviewee: str, levels: list[int], comment: str = "",
              kind: ReviewKind = ReviewKind.PEER, comments: dict[str, str] | None = None) -> Review:
    review = Review.for_assignment("a1", Assignment(reviewer, reviewee, kind))
    return review.submit(assessment(), ReviewSubmission(dict(zip(CRITERIA, levels, strict=True)),
                                                        comments or {}, comment), OPENED)


def test_mean_and_median_per_criterion_ignore_pending_and_withdrawn_reviews() -> None:
    reviews = [submitted("r1", "bob", [4, 3, 2, 1]), submitted("r2", "bob", [2, 3, 2, 1]),
               submitted("r3", "bob", [3, 1, 4, 1]),
               Review.for_assignment("a1", Assignment("r4", "bob")),
               submitted("r5", "bob", [1, 1, 1, 1]).withdraw(assessment())]
    result = aggregate(RUBRIC, reviews).results["bob"]
    assert result.n_reviews == 3
    listening = result.criterion("active-listening")
    assert (listening.n, listening.mean, listening.median) == (3, 3.0, 3.0)
    assert result.criterion("powerful-questions").mean == pytest.approx(7 / 3, abs=1e-3)
    assert result.criterion("goal-setting").median == 2.0
    assert result.score is not None and result.score.min == 4 and result.score.max == 16


def test_self_assessment_is_reported_beside_the_peer_view_not_mixed_in() -> None:
    reviews = [submitted("r1", "bob", [2, 2, 2, 2]), submitted("r2", "bob", [2, 2, 2, 2]),
               submitted("bob", "bob", [4, 4, 4, 4], kind=ReviewKind.SELF)]
    result = aggregate(RUBRIC, reviews).results["bob"]
    assert result.n_reviews == 2
    assert result.criterion("goal-setting").mean == 2.0 and result.criterion("goal-setting").self_level == 4


def test_pg1_fit_recovers_reviewer_bias_and_reliability() -> None:
    rng = np.random.default_rng(0)
    n_items, n_reviewers = 400, 80
    truth = rng.normal(60, 10, n_items)
    bias = rng.normal(0, 6, n_reviewers)
    noise = rng.uniform(2, 12, n_reviewers)
    item = np.repeat(np.arange(n_items), 5)
    reviewer = rng.integers(0, n_reviewers, item.size)
    value = truth[item] + bias[reviewer] + rng.normal(0, 1, item.size) * noise[reviewer]
    fit = fit_reviewer_model(item, reviewer, value, n_items=n_items, n_reviewers=n_reviewers)
    mean = np.bincount(item, weights=value) / 5
    rmse = lambda est: float(np.sqrt(np.mean((est - truth) ** 2)))  # noqa: E731
    assert rmse(fit.score) < 0.8 * rmse(mean)
    assert np.corrcoef(fit.bias, bias)[0, 1] > 0.9
    assert np.corrcoef(fit.noise_sd, noise)[0, 1] > 0.6
    covered = np.mean(np.abs(fit.score - truth) < 1.96 * fit.uncertainty)
    assert 0.85 < covered < 0.99  # the uncertainty means something
    assert fit.iterations < 200


def test_pg1_fit_rejects_mismatched_arrays() -> None:
    with pytest.raises(ValueError, match="same length"):
        fit_reviewer_model(np.array([0, 1]), np.array([0]), np.array([1.0, 2.0]), n_items=2, n_reviewers=1)


def test_calibrated_estimate_corrects_lenient_reviewers() -> None:
    # 40 people, each reviewed by 3 of 30 reviewers; five reviewers always rate one level above the truth.
    rng = np.random.default_rng(3)
    truths = {f"u{i}": [int(v) for v in rng.integers(1, 4, 4)] for i in range(40)}
    lenient = {f"r{i}" for i in range(5)}
    reviews = []
    for person, levels in truths.items():
        for reviewer in rng.choice([f"r{i}" for i in range(30)], 3, replace=False):
            shift = 1 if reviewer in lenient else 0
            reviews.append(submitted(str(reviewer), person, [lv + shift for lv in levels]))
    report = aggregate(RUBRIC, reviews)
    assert min(report.reviewers[r].bias for r in lenient) > 0.5
    assert max(abs(stat.bias) for rid, stat in report.reviewers.items() if rid not in lenient) < 0.35
    error_mean = error_cal = 0.0
    for person, levels in truths.items():
        for cid, truth in zip(CRITERIA, levels, strict=True):
            c = report.results[person].criterion(cid)
            assert c.calibrated is not None and c.mean is not None and c.uncertainty is not None
            error_mean += (c.mean - truth) ** 2
            error_cal += (c.calibrated - truth) ** 2
    assert error_cal < 0.5 * error_mean


def test_uncertainty_shrinks_with_more_reviews() -> None:
    reviews = [submitted(f"r{i}", "many", [3, 3, 2, 2]) for i in range(6)] + \
              [submitted("r0", "few", [3, 3, 2, 2])] + [submitted("r1", "few", [3, 2, 2, 3])]
    report = aggregate(RUBRIC, reviews)
    many = report.results["many"].criterion("goal-setting").uncertainty
    few = report.results["few"].criterion("goal-setting").uncertainty
    assert many is not None and few is not None and many < few


def test_uniform_levels_are_flagged() -> None:
    reviews = [submitted("lazy", "a", [3, 3, 3, 3]), submitted("lazy", "b", [3, 3, 3, 3]),
               submitted("ok", "a", [3, 3, 3, 3]), submitted("ok", "b", [2, 3, 4, 3])]
    flags = aggregate(RUBRIC, reviews).flags
    assert [(f.reviewer_id, f.kind) for f in flags if f.kind is FlagKind.UNIFORM_LEVELS] == \
        [("lazy", FlagKind.UNIFORM_LEVELS)]


def test_extreme_outliers_are_flagged_with_the_review() -> None:
    reviews = [submitted(f"r{i}", "bob", [4, 4, 3, 4]) for i in range(3)] + [submitted("odd", "bob", [1, 1, 1, 1])]
    flags = [f for f in aggregate(RUBRIC, reviews).flags if f.kind is FlagKind.EXTREME_OUTLIER]
    assert [f.reviewer_id for f in flags] == ["odd"]
    assert flags[0].review_id == reviews[-1].id


def test_inconsistent_reviewer_is_flagged_as_low_reliability() -> None:
    reviews = []
    for i in range(12):
        base = [1 + (i % 3)] * 4
        for r in range(4):
            reviews.append(submitted(f"steady{r}", f"u{i}", base))
        wild = [4 if (i + j) % 2 else 1 for j in range(4)]
        reviews.append(submitted("wild", f"u{i}", wild))
    flags = aggregate(RUBRIC, reviews).flags
    assert ("wild", FlagKind.LOW_RELIABILITY) in {(f.reviewer_id, f.kind) for f in flags}
    assert not any(f.reviewer_id.startswith("steady") and f.kind is FlagKind.LOW_RELIABILITY for f in flags)


def test_k_threshold_withholds_anonymous_results_below_k() -> None:
    assert not release_decision(assessment(min_reviews=3), 2).released
    assert "at least 3 reviews" in release_decision(assessment(min_reviews=3), 2).reason
    assert release_decision(assessment(min_reviews=3), 3).released
    named = assessment(mode=AllocationMode.PARTNERS, named_feedback=True)
    assert release_decision(named, 1).released and not release_decision(named, 0).released


def released(**changes: object) -> Assessment:
    return assessment(**changes).release(DEADLINE)


def three_reviews() -> list[Review]:
    return [submitted("rev-ann", "bob", [4, 2, 3, 1], "Great listener", comments={"giving-feedback": "be concrete"}),
            submitted("rev-cid", "bob", [4, 2, 3, 2], "Helpful"),
            submitted("rev-dee", "bob", [3, 1, 3, 1]),
            submitted("bob", "bob", [3, 4, 3, 3], kind=ReviewKind.SELF)]


def test_feedback_has_strengths_growth_self_gap_and_next_steps() -> None:
    reviews = three_reviews()
    report = aggregate(RUBRIC, reviews)
    view = build_feedback(released(), report.results["bob"], reviews, framework=GROW)
    assert view.released and view.n_reviews == 3
    assert view.strengths == ("Active listening",)
    assert set(view.growth_areas) == {"Powerful questions", "Giving feedback"}
    questions = next(c for c in view.criteria if c.criterion_id == "powerful-questions")
    assert questions.band is Band.GROWTH and questions.self_level == 4 and questions.gap is not None
    assert questions.gap > 1.5
    assert RUBRIC.criterion("powerful-questions").next_steps[0] in view.next_steps
    assert GROW.stages[-1].prompts[0] in view.next_steps
    assert {c.text for c in view.comments} == {"Great listener", "Helpful", "be concrete"}


def test_anonymous_feedback_exposes_no_reviewer_anywhere() -> None:
    reviews = three_reviews()
    view = build_feedback(released(), aggregate(RUBRIC, reviews).results["bob"], reviews, framework=GROW,
                          reviewer_names={"rev-ann": "Ann Smith"})
    dumped = json.dumps(asdict(view), default=str)
    for secret in ("rev-ann", "rev-cid", "rev-dee", "Ann Smith", *(r.id for r in reviews)):
        assert secret not in dumped
    assert all(c.author == "" for c in view.comments)


def test_named_feedback_shows_reviewer_names() -> None:
    reviews = [submitted("rev-ann", "bob", [4, 2, 3, 1], "Great listener")]
    named = released(mode=AllocationMode.PARTNERS, named_feedback=True)
    view = build_feedback(named, aggregate(RUBRIC, reviews).results["bob"], reviews,
                          reviewer_names={"rev-ann": "Ann Smith"})
    assert view.released and view.named and view.comments[0].author == "Ann Smith"


def test_feedback_below_k_or_before_release_shows_nothing() -> None:
    reviews = three_reviews()[:2]
    result = aggregate(RUBRIC, reviews).results["bob"]
    withheld = build_feedback(released(), result, reviews)
    assert not withheld.released and withheld.criteria == () and withheld.comments == ()
    assert "at least 3" in withheld.message
    early = build_feedback(assessment(), aggregate(RUBRIC, three_reviews()).results["bob"], three_reviews())
    assert not early.released and early.comments == () and "after the deadline" in early.message
