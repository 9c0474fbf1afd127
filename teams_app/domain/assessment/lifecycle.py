"""The review lifecycle: an assessment's window and late policy, reviews submitted, edited, withdrawn, set aside
and reinstated, reminders due, and the audit trail of admin overrides."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from teams_app.domain.assessment.allocation import MAX_REVIEWERS, AllocationMode, Assignment, ReviewKind
from teams_app.domain.assessment.rubric import ReviewSubmission, Rubric
from teams_app.domain.errors import InvalidInput, InvalidInputs, InvalidTransition, NotAllowed
from teams_app.domain.model import new_id, stable_id

MAX_REASON = 500


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
