"""The k-threshold release rule: anonymous results need at least k peer reviews, named ones at least one."""

from __future__ import annotations

from dataclasses import dataclass

from teams_app.domain.assessment.lifecycle import Assessment


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
