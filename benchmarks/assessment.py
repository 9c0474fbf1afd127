"""Benchmark: calibrated peer-score aggregation (PG1, Piech et al. 2013) against the mean and the median.

Simulates a cohort of 2,000 people with true scores on a 100-point scale, 3-5 reviewers each drawn from the
same cohort (balanced load), and per-reviewer bias and noise. Prints RMSE of the mean, the median and the
calibrated estimate for two cohorts (varied reviewers; identical unbiased reviewers), the time to fit 10,000
reviews, and as the last line one JSON object with the figures.

Run: ``python benchmarks/assessment.py`` (about 10 s; ``--repeats N`` to average over more cohorts).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from teams_app.adapters.rubric_files import builtin_rubric
from teams_app.domain.assessment import (
    AllocationMode,
    Assessment,
    Review,
    ReviewSubmission,
    aggregate,
    allocate_reviewers,
    fit_reviewer_model,
)
from teams_app.domain.model import Participant, Profile

logger = logging.getLogger(__name__)

COHORT = 2_000
TRUE_MEAN, TRUE_SD = 70.0, 10.0


@dataclass(frozen=True)
class Cohort:
    truth: np.ndarray
    item: np.ndarray
    reviewer: np.ndarray
    value: np.ndarray


def simulate(rng: np.random.Generator, n: int, bias_sd: float, noise_low: float, noise_high: float,
             reviews: tuple[int, int] = (3, 5)) -> Cohort:
    truth = np.clip(rng.normal(TRUE_MEAN, TRUE_SD, n), 0, 100)
    bias = rng.normal(0, bias_sd, n) if bias_sd > 0 else np.zeros(n)
    noise = rng.uniform(noise_low, noise_high, n)
    counts = rng.integers(reviews[0], reviews[1] + 1, n)
    # Balanced load: reviewers are dealt from a stream of shuffled decks of the whole cohort.
    deck: list[int] = []
    items: list[int] = []
    reviewers: list[int] = []
    for person in range(n):
        chosen: set[int] = set()
        while len(chosen) < counts[person]:
            if not deck:
                deck = rng.permutation(n).tolist()
            candidate = deck.pop()
            if candidate != person and candidate not in chosen:
                chosen.add(candidate)
        for candidate in sorted(chosen):
            items.append(person)
            reviewers.append(candidate)
    item = np.array(items)
    reviewer = np.array(reviewers)
    value = np.clip(truth[item] + bias[reviewer] + rng.normal(0, 1, item.size) * noise[reviewer], 0, 100)
    return Cohort(truth, item, reviewer, value)


def rmse(estimate: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((estimate - truth) ** 2)))


def evaluate(cohort: Cohort) -> tuple[float, float, float, float, float]:
    n = cohort.truth.size
    counts = np.bincount(cohort.item, minlength=n)
    mean = np.bincount(cohort.item, weights=cohort.value, minlength=n) / counts
    order = np.argsort(cohort.item, kind="stable")
    groups = np.split(cohort.value[order], np.cumsum(counts)[:-1])
    median = np.array([np.median(g) for g in groups])
    started = time.perf_counter()
    fit = fit_reviewer_model(cohort.item, cohort.reviewer, cohort.value, n_items=n, n_reviewers=n)
    elapsed = time.perf_counter() - started
    coverage = float(np.mean(np.abs(fit.score - cohort.truth) <= 1.96 * fit.uncertainty))
    return rmse(mean, cohort.truth), rmse(median, cohort.truth), rmse(fit.score, cohort.truth), elapsed, coverage


def pipeline(rng: np.random.Generator) -> None:
    """Reviewer allocation and the whole rubric aggregation on a realistic cohort (not part of the JSON line)."""
    rubric = builtin_rubric("coaching-skills")
    sizes = [0.3, 0.2, 0.15, 0.1, 0.1, 0.05, 0.05, 0.05]  # teams of uneven size
    teams = rng.choice(len(sizes), COHORT, p=sizes)
    people = [Participant(f"p{i}", f"p{i}@example.com", f"P{i}", profile=Profile(department=f"team{t}"),
                          manager_email=f"p{i - 1}@example.com" if i % 9 == 1 else "")
              for i, t in enumerate(teams)]
    started = time.perf_counter()
    allocation = allocate_reviewers(people, AllocationMode.PEERS, seed=1, per_person=4)
    alloc_s = time.perf_counter() - started
    loads = allocation.load().values()
    opened = datetime(2026, 1, 5, tzinfo=UTC)
    assessment = Assessment("bench", "program", "round", rubric, AllocationMode.PEERS, opened,
                            opened + timedelta(days=7), seed=1)
    truth = {p.id: rng.uniform(1.5, 3.8, len(rubric.criteria)) for p in people}
    bias = {p.id: rng.normal(0, 0.4) for p in people}
    reviews = []
    for a in allocation.assignments:
        levels = np.clip(np.rint(truth[a.reviewee_id] + bias[a.reviewer_id] + rng.normal(0, 0.5, 4)), 1, 4)
        submission = ReviewSubmission({c.id: int(v) for c, v in zip(rubric.criteria, levels, strict=True)})
        reviews.append(Review.for_assignment(assessment.id, a).submit(assessment, submission, opened))
    started = time.perf_counter()
    report = aggregate(rubric, reviews)
    aggregate_s = time.perf_counter() - started
    print()
    print(f"allocation: {COHORT:,} people in 8 teams of uneven size, 4 peer reviewers each outside their team: "
          f"{alloc_s * 1000:.0f} ms, reviews written per person {min(loads)}-{max(loads)}, "
          f"{len(allocation.unfilled)} unfilled")
    print(f"aggregate(): {len(reviews):,} rubric reviews x {len(rubric.criteria)} criteria (mean, median, calibrated,"
          f" flags): {aggregate_s * 1000:.0f} ms, {len(report.flags)} careless-review flags "
          f"({', '.join(f'{k}: {v}' for k, v in sorted(Counter(f.kind.value for f in report.flags).items()))})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="cohorts simulated per scenario (default 5)")
    parser.add_argument("--seed", type=int, default=2013)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    scenarios = {
        "varied (bias sd 5, noise sd 3-12)": (5.0, 3.0, 12.0),
        "identical unbiased (noise sd 7.5)": (0.0, 7.5, 7.5),
    }
    figures: dict[str, tuple[float, float, float, float, float]] = {}
    print(f"Peer-score aggregation, cohort of {COHORT:,} people, 3-5 reviewers each, true scores "
          f"N({TRUE_MEAN:.0f}, {TRUE_SD:.0f}) on 0..100, {args.repeats} cohorts per scenario")
    print()
    header = (f"{'scenario':<36} {'RMSE mean':>10} {'median':>8} {'calibrated':>11} {'vs mean':>8} {'vs median':>10}"
              f" {'95% cover':>10} {'fit ms':>7}")
    print("(the mean is the baseline; 'vs' columns: calibrated RMSE relative to it; cover: truth inside the 95% "
          "interval)")
    print(header)
    print("-" * len(header))
    for name, (bias_sd, low, high) in scenarios.items():
        runs = [evaluate(simulate(rng, COHORT, bias_sd, low, high)) for _ in range(args.repeats)]
        m, md, cal, secs, cover = (statistics.fmean(col) for col in zip(*runs, strict=True))
        figures[name] = (m, md, cal, secs, cover)
        print(f"{name:<36} {m:>10.3f} {md:>8.3f} {cal:>11.3f} {cal / m - 1:>+8.1%} {cal / md - 1:>+10.1%}"
              f" {cover:>10.1%} {secs * 1000:>7.1f}")

    # Fit time at 10,000 reviews: 2,500 people x 4 reviewers each; best of 3 (the first run warms numpy up).
    big = simulate(rng, 2_500, 5.0, 3.0, 12.0, reviews=(4, 4))
    times = []
    for _ in range(3):
        started = time.perf_counter()
        fit = fit_reviewer_model(big.item, big.reviewer, big.value, n_items=2_500, n_reviewers=2_500)
        times.append(time.perf_counter() - started)
    fit_10k = min(times)
    print()
    print(f"fit of {big.item.size:,} reviews: {fit_10k * 1000:.1f} ms (best of 3, {fit.iterations} EM iterations)")

    pipeline(rng)

    varied = figures["varied (bias sd 5, noise sd 3-12)"]
    unbiased = figures["identical unbiased (noise sd 7.5)"]
    gain = 1 - varied[2] / varied[0]
    loss = unbiased[2] / unbiased[0] - 1
    print()
    print("targets: gain vs mean (varied) >= 15%: "
          f"{gain:.1%} {'PASS' if gain >= 0.15 else 'FAIL'}; loss vs mean (unbiased) <= 3%: "
          f"{loss:+.1%} {'PASS' if loss <= 0.03 else 'FAIL'}; fit 10k <= 1 s: "
          f"{fit_10k:.3f} s {'PASS' if fit_10k <= 1.0 else 'FAIL'}")
    print(json.dumps({
        "rmse_mean": round(varied[0], 4),
        "rmse_median": round(varied[1], 4),
        "rmse_calibrated": round(varied[2], 4),
        "gain_vs_mean_varied": round(gain, 4),
        "loss_vs_mean_unbiased": round(loss, 4),
        "fit_10k_s": round(fit_10k, 4),
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
