"""Peer assessment: rubrics, reviewer allocation, the review lifecycle, calibration, aggregation, release rules
and feedback, one module each; plain Python plus numpy, no I/O.

The public names are re-exported here, so ``from teams_app.domain.assessment import Rubric`` works wherever it
did before the package split. Rubric files (YAML/JSON, and the built-in rubrics shipped as package data) are
read by :mod:`teams_app.adapters.rubric_files`.
"""

from teams_app.domain.assessment.aggregation import (
    LOW_RELIABILITY_RATIO,
    OUTLIER_SHARE,
    AggregateReport,
    CarelessFlag,
    CriterionResult,
    FlagKind,
    PersonResult,
    ReviewerStat,
    aggregate,
    careless_flags,
)
from teams_app.domain.assessment.allocation import (
    MAX_REVIEWERS,
    Allocation,
    AllocationMode,
    Assignment,
    ReviewKind,
    allocate_reviewers,
    reporting_conflict,
)
from teams_app.domain.assessment.calibration import CalibrationFit, fit_reviewer_model
from teams_app.domain.assessment.feedback import (
    Band,
    CriterionFeedback,
    FeedbackComment,
    FeedbackView,
    build_feedback,
)
from teams_app.domain.assessment.lifecycle import (
    MAX_REASON,
    Assessment,
    AssessmentStatus,
    AuditEntry,
    LatePolicy,
    Review,
    ReviewStatus,
    reminders_due,
    require_reviewer,
)
from teams_app.domain.assessment.release import (
    ReleaseDecision,
    ShortReviewee,
    WithheldReason,
    release_decision,
    unreachable,
)
from teams_app.domain.assessment.rubric import (
    CANT_JUDGE,
    MAX_CRITERIA,
    MAX_LEVELS,
    SLUG_RE,
    Criterion,
    Level,
    ReviewSubmission,
    Rubric,
    Score,
)

__all__ = [
    "CANT_JUDGE",
    "LOW_RELIABILITY_RATIO",
    "MAX_CRITERIA",
    "MAX_LEVELS",
    "MAX_REASON",
    "MAX_REVIEWERS",
    "OUTLIER_SHARE",
    "SLUG_RE",
    "AggregateReport",
    "Allocation",
    "AllocationMode",
    "Assessment",
    "AssessmentStatus",
    "Assignment",
    "AuditEntry",
    "Band",
    "CalibrationFit",
    "CarelessFlag",
    "Criterion",
    "CriterionFeedback",
    "CriterionResult",
    "FeedbackComment",
    "FeedbackView",
    "FlagKind",
    "LatePolicy",
    "Level",
    "PersonResult",
    "ReleaseDecision",
    "Review",
    "ReviewKind",
    "ReviewStatus",
    "ReviewSubmission",
    "ReviewerStat",
    "Rubric",
    "Score",
    "ShortReviewee",
    "WithheldReason",
    "aggregate",
    "allocate_reviewers",
    "build_feedback",
    "careless_flags",
    "fit_reviewer_model",
    "release_decision",
    "reminders_due",
    "reporting_conflict",
    "require_reviewer",
    "unreachable",
]
