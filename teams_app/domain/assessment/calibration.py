"""Calibrated scores: the PG1 model of Piech et al. 2013 ("Tuned models of peer assessment in MOOCs").

Reviewer ``v`` reports ``z_uv ~ N(s_u + b_v, 1/tau_v)`` about person ``u`` with true score ``s_u ~ N(mu, 1/gamma)``,
bias ``b_v ~ N(0, 1/eta)`` and reliability ``tau_v ~ Gamma(alpha, beta)``. We fit it by EM-style alternating
updates (Gaussian posteriors for scores and biases using leave-one-out messages, posterior-mean reliabilities,
empirical-Bayes hyper-parameters), vectorised with ``np.bincount``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


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
