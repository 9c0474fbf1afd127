"""The k-threshold release rule (anonymous results need at least k peer reviews, named ones at least one) and
the check, made when an assessment opens, that its allocation can reach that threshold for everyone."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from teams_app.domain.assessment.aggregation import CriterionResult, PersonResult
from teams_app.domain.assessment.allocation import Allocation, ReviewKind
from teams_app.domain.assessment.lifecycle import Assessment


class WithheldReason(StrEnum):
    """Why a person sees no results; the cards turn each into a full, translated sentence."""

    NONE = ""
    NOT_YET = "not_yet"  # the assessment is not released yet
    BELOW_K = "below_k"  # anonymous feedback with fewer than k peer reviews
    NO_REVIEWS = "no_reviews"  # named feedback and nobody submitted one


@dataclass(frozen=True)
class ReleaseDecision:
    released: bool
    reason: str  # English, for logs and the admin; people see the catalog sentence for ``why``
    n_reviews: int
    needed: int
    why: WithheldReason = WithheldReason.NONE


def release_decision(assessment: Assessment, peer_reviews_counted: int) -> ReleaseDecision:
    """k-threshold rule: anonymous results need at least k peer reviews, named ones at least one."""
    needed = assessment.threshold
    if peer_reviews_counted >= needed:
        return ReleaseDecision(True, "", peer_reviews_counted, needed)
    if assessment.named_feedback:
        return ReleaseDecision(False, "No feedback was submitted for you this time.", peer_reviews_counted,
                               needed, WithheldReason.NO_REVIEWS)
    reason = (f"Your feedback stays anonymous, so it is shared only once at least {needed} reviews have arrived; "
              f"{peer_reviews_counted} arrived this time.")
    return ReleaseDecision(False, reason, peer_reviews_counted, needed, WithheldReason.BELOW_K)


@dataclass(frozen=True)
class ShortReviewee:
    """Someone the allocation cannot give ``needed`` peer reviews, even if every reviewer submits."""

    reviewee_id: str
    allocated: int
    needed: int
    reason: str


def unreachable(allocation: Allocation, reviewees: Iterable[str], needed: int,
                asked: int | None = None) -> list[ShortReviewee]:
    """Everyone in ``reviewees`` whose allocated peer reviews are fewer than ``needed``, with why.

    The reason comes from the allocation's unfilled list when it has one (a manager in the match, too few
    people outside the team), else from what was asked (``asked`` reviewers per person) or from the size of
    the match (a pair gives one review)."""
    received = Counter(a.reviewee_id for a in allocation.assignments if a.kind is ReviewKind.PEER)
    why = dict(allocation.unfilled)
    short: list[ShortReviewee] = []
    for person in sorted(set(reviewees)):
        got = received[person]
        if got >= needed:
            continue
        reason = why.get(person) or (
            "nobody is allocated to review them" if got == 0 else
            f"only {asked} reviewer{'s' if asked != 1 else ''} per person were asked for"
            if asked is not None and got >= asked else
            f"their match or circle gives only {got} reviewer{'s' if got != 1 else ''}")
        short.append(ShortReviewee(person, got, needed, reason))
    return short


def shown_criteria(assessment: Assessment, result: PersonResult) -> list[CriterionResult]:
    """The criteria whose result may leave the admin view: rated by at least the threshold's number of
    reviewers (with "can't judge", a criterion can have fewer ratings than the person has reviews)."""
    needed = assessment.threshold
    return [c for c in result.criteria if c.n >= needed and c.mean is not None]
