"""Peer-assessment events, with stable keys (``assessment-...``) so retries deduplicate downstream.

The LRS side maps them to statements: :class:`ReviewSubmitted` -> ``reviewed`` (one ``rated`` per criterion),
:class:`ReviewWithdrawn` and an edit's ``replaces_key`` -> ``voided`` (StatementRef to that key's statement),
:class:`FeedbackReleased` -> ``rated`` with the aggregate score. Reviewer ids travel in review events (the
LRS needs the actor) but never in :class:`FeedbackReleased`/:class:`FeedbackWithheld`, which reach the
assessed person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from teams_app.domain.events import Event


@dataclass(frozen=True)
class CriterionRating:
    criterion_id: str
    level: float
    min: float
    max: float


@dataclass(frozen=True)
class AssessmentOpened(Event):
    program_id: str
    assessment_id: str
    round_id: str
    deadline: datetime
    reviews: int


@dataclass(frozen=True)
class ReviewAssigned(Event):
    """Tell the reviewer (rubric card); for a self-assessment reviewer and reviewee are the same person."""

    program_id: str
    assessment_id: str
    review_id: str
    reviewer_id: str
    reviewee_id: str
    self_assessment: bool
    deadline: datetime


@dataclass(frozen=True)
class ReviewSubmitted(Event):
    """A (re)submitted review. ``key`` is the review's statement key for this version; ``replaces_key`` names
    the previous version's statement when this is an edit (the LRS side voids it)."""

    program_id: str
    assessment_id: str
    round_id: str
    review_id: str
    reviewer_id: str
    reviewee_id: str
    self_assessment: bool
    version: int
    ratings: tuple[CriterionRating, ...]
    score_raw: float
    score_min: float
    score_max: float
    comment: str
    late: bool
    replaces_key: str = ""


@dataclass(frozen=True)
class ReviewWithdrawn(Event):
    """The reviewer withdrew (or an admin set aside) a review: ``voided_key`` is the statement to void."""

    program_id: str
    assessment_id: str
    review_id: str
    reviewer_id: str
    voided_key: str
    by_admin: bool = False


@dataclass(frozen=True)
class ReviewReminderDue(Event):
    program_id: str
    assessment_id: str
    review_id: str
    reviewer_id: str
    deadline: datetime
    reminder_number: int


@dataclass(frozen=True)
class FeedbackReleased(Event):
    """Results released to the assessed person: an aggregate score (no reviewer identities)."""

    program_id: str
    assessment_id: str
    round_id: str
    reviewee_id: str
    n_reviews: int
    score_raw: float
    score_min: float
    score_max: float
    criteria: tuple[CriterionRating, ...]


@dataclass(frozen=True)
class FeedbackWithheld(Event):
    """Too few reviews to release anonymously (below k): the person is told why, nothing else."""

    program_id: str
    assessment_id: str
    reviewee_id: str
    n_reviews: int
    needed: int


@dataclass(frozen=True)
class ReviewerThanked(Event):
    """Thank-you to a reviewer, with their recognition count (peer reviews submitted in this program)."""

    program_id: str
    assessment_id: str
    reviewer_id: str
    reviews_in_assessment: int
    reviews_in_program: int


@dataclass(frozen=True)
class CarelessReviewFlagged(Event):
    """For the program admin only."""

    program_id: str
    assessment_id: str
    reviewer_id: str
    kind: str
    detail: str
    review_id: str = ""


@dataclass(frozen=True)
class AssessmentOverridden(Event):
    program_id: str
    assessment_id: str
    audit_id: str
    action: str
    actor: str
