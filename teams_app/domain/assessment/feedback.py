"""What the assessed person sees: strengths, growth areas, self vs peers, comments and next steps.

Anonymity is a property of the data handed out here: :class:`FeedbackView` carries no reviewer id, email or
name unless the assessment is named; only the service's admin view may.
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from teams_app.domain.assessment.aggregation import PersonResult
from teams_app.domain.assessment.allocation import ReviewKind
from teams_app.domain.assessment.lifecycle import Assessment, AssessmentStatus, Review
from teams_app.domain.assessment.release import WithheldReason, release_decision, shown_criteria
from teams_app.domain.assessment.rubric import Score
from teams_app.domain.model import CoachingFramework


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
    why: WithheldReason = WithheldReason.NONE  # when not released: which catalog sentence explains it
    needed: int = 0  # reviews needed (k, or 1 when named)


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
                            "Your feedback will be shared after the deadline.", why=WithheldReason.NOT_YET,
                            needed=decision.needed, named=assessment.named_feedback)
    if result is None or not decision.released:
        return FeedbackView(assessment.id, reviewee, rubric.name, False, decision.reason,
                            n_reviews=decision.n_reviews, why=decision.why, needed=decision.needed,
                            named=assessment.named_feedback)
    criteria: list[CriterionFeedback] = []
    normalised: dict[str, float] = {}
    shown = {c.criterion_id for c in shown_criteria(assessment, result)}
    for criterion in rubric.criteria:
        cr = result.criterion(criterion.id)
        if cr.mean is None or cr.median is None or criterion.id not in shown:
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
                        result.score, named, needed=decision.needed)
