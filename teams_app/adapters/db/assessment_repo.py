"""SQL persistence for peer assessment: four tables on the shared MetaData, two repositories, a unit of work.

Tables: ``assessments`` (the rubric is snapshotted as JSON, so editing a rubric file later never changes an
assessment in flight), ``assessment_reviews``, ``assessment_results`` (aggregates frozen at release) and
``assessment_audit`` (admin overrides). Reviews and results cascade with participants, so erasing a person
erases what they wrote and what was written about them. The migration is the ``assessment_0001`` branch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from teams_app.adapters.db.assessment_tables import (
    assessment_audit,
    assessment_results,
    assessment_reviews,
    assessments,
)
from teams_app.adapters.db.uow import SqlUnitOfWork
from teams_app.domain.assessment import (
    AllocationMode,
    Assessment,
    AssessmentStatus,
    AuditEntry,
    CriterionResult,
    LatePolicy,
    PersonResult,
    Review,
    ReviewKind,
    ReviewStatus,
    Rubric,
    Score,
)
from teams_app.service.assessment import AssessmentRepository, ReviewRepository

_CHUNK = 500  # rows per INSERT, under SQLite's bound-parameter limit


def _assessment_row(a: Assessment) -> dict[str, Any]:
    return {
        "id": a.id, "program_id": a.program_id, "round_id": a.round_id, "rubric": a.rubric.to_dict(),
        "mode": a.mode.value, "opened_at": a.opened_at, "deadline": a.deadline, "seed": a.seed,
        "settings": {
            "reviewers_per_person": a.reviewers_per_person, "self_assessment": a.self_assessment,
            "min_reviews": a.min_reviews, "named_feedback": a.named_feedback, "admin_sees_names": a.admin_sees_names,
            "late_policy": a.late_policy.value, "grace_hours": a.grace_hours, "reminder_hours": list(a.reminder_hours),
        },
        "status": a.status.value, "released_at": a.released_at,
    }


def _assessment(row: Any) -> Assessment:
    s = dict(row.settings or {})
    return Assessment(
        id=row.id, program_id=row.program_id, round_id=row.round_id, rubric=Rubric.from_dict(row.rubric),
        mode=AllocationMode(row.mode), opened_at=row.opened_at, deadline=row.deadline, seed=int(row.seed),
        reviewers_per_person=int(s.get("reviewers_per_person", 3)), self_assessment=bool(s.get("self_assessment")),
        min_reviews=int(s.get("min_reviews", 3)), named_feedback=bool(s.get("named_feedback")),
        admin_sees_names=bool(s.get("admin_sees_names")), late_policy=LatePolicy(s.get("late_policy", "reject")),
        grace_hours=int(s.get("grace_hours", 0)), reminder_hours=tuple(int(h) for h in s.get("reminder_hours", ())),
        status=AssessmentStatus(row.status), released_at=row.released_at,
    )


def _review_row(r: Review) -> dict[str, Any]:
    return {
        "id": r.id, "assessment_id": r.assessment_id, "reviewer_id": r.reviewer_id, "reviewee_id": r.reviewee_id,
        "kind": r.kind.value, "status": r.status.value, "ratings": dict(r.ratings), "comments": dict(r.comments),
        "comment": r.comment, "version": r.version, "submitted_at": r.submitted_at, "late": r.late,
        "reminders_sent": r.reminders_sent, "allow_late_until": r.allow_late_until,
        "excluded_reason": r.excluded_reason,
    }


def _review(row: Any) -> Review:
    return Review(
        id=row.id, assessment_id=row.assessment_id, reviewer_id=row.reviewer_id, reviewee_id=row.reviewee_id,
        kind=ReviewKind(row.kind), status=ReviewStatus(row.status),
        ratings={k: int(v) for k, v in (row.ratings or {}).items()}, comments=dict(row.comments or {}),
        comment=row.comment, version=row.version, submitted_at=row.submitted_at, late=row.late,
        reminders_sent=row.reminders_sent, allow_late_until=row.allow_late_until,
        excluded_reason=row.excluded_reason,
    )


def _result_row(assessment_id: str, r: PersonResult) -> dict[str, Any]:
    return {
        "assessment_id": assessment_id, "reviewee_id": r.reviewee_id, "n_reviews": r.n_reviews,
        "score": None if r.score is None else {"raw": r.score.raw, "min": r.score.min, "max": r.score.max},
        "criteria": [{"criterion_id": c.criterion_id, "n": c.n, "mean": c.mean, "median": c.median,
                      "calibrated": c.calibrated, "uncertainty": c.uncertainty, "self_level": c.self_level}
                     for c in r.criteria],
    }


def _result(row: Any) -> PersonResult:
    score = row.score
    return PersonResult(
        row.reviewee_id, row.n_reviews,
        tuple(CriterionResult(c["criterion_id"], c["n"], c["mean"], c["median"], c["calibrated"], c["uncertainty"],
                              c["self_level"]) for c in row.criteria),
        None if score is None else Score(score["raw"], score["min"], score["max"]),
    )


class SqlAssessmentRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, assessment: Assessment) -> None:
        await self.conn.execute(assessments.insert().values(**_assessment_row(assessment)))

    async def update(self, assessment: Assessment) -> None:
        row = _assessment_row(assessment)
        await self.conn.execute(assessments.update().where(assessments.c.id == assessment.id).values(**row))

    async def get(self, assessment_id: str) -> Assessment | None:
        row = (await self.conn.execute(assessments.select().where(assessments.c.id == assessment_id))).first()
        return _assessment(row) if row else None

    async def for_program(self, program_id: str) -> list[Assessment]:
        rows = await self.conn.execute(assessments.select().where(assessments.c.program_id == program_id)
                                       .order_by(assessments.c.opened_at, assessments.c.id))
        return [_assessment(r) for r in rows]

    async def open(self) -> list[Assessment]:
        """Open assessments; on PostgreSQL locked for this transaction, skipping those another server holds, so
        two workers never release or remind the same assessment at once."""
        query = (assessments.select().where(assessments.c.status == AssessmentStatus.OPEN.value)
                 .order_by(assessments.c.deadline, assessments.c.id))
        if self.conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [_assessment(r) for r in await self.conn.execute(query)]

    async def add_audit(self, entry: AuditEntry) -> None:
        await self.conn.execute(assessment_audit.insert().values(
            id=entry.id, assessment_id=entry.assessment_id, actor=entry.actor, action=entry.action,
            reason=entry.reason, at=entry.at, target=entry.target, details=dict(entry.details)))

    async def audit(self, assessment_id: str) -> list[AuditEntry]:
        c = assessment_audit.c
        rows = await self.conn.execute(assessment_audit.select().where(c.assessment_id == assessment_id)
                                       .order_by(c.at, c.id))
        return [AuditEntry(r.id, r.assessment_id, r.actor, r.action, r.reason, r.at, r.target, dict(r.details or {}))
                for r in rows]

    async def save_results(self, assessment_id: str, results: Sequence[PersonResult]) -> None:
        """Replace the stored results of the assessment (release is one transaction, so this is atomic)."""
        await self.conn.execute(assessment_results.delete().where(assessment_results.c.assessment_id == assessment_id))
        rows = [_result_row(assessment_id, r) for r in results]
        for start in range(0, len(rows), _CHUNK):
            await self.conn.execute(assessment_results.insert(), rows[start:start + _CHUNK])

    async def results(self, assessment_id: str) -> dict[str, PersonResult]:
        rows = await self.conn.execute(assessment_results.select()
                                       .where(assessment_results.c.assessment_id == assessment_id))
        return {r.reviewee_id: _result(r) for r in rows}


class SqlReviewRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add_many(self, reviews: Sequence[Review]) -> None:
        rows = [_review_row(r) for r in reviews]
        for start in range(0, len(rows), _CHUNK):
            await self.conn.execute(assessment_reviews.insert(), rows[start:start + _CHUNK])

    async def update(self, review: Review) -> None:
        result = await self.conn.execute(assessment_reviews.update().where(assessment_reviews.c.id == review.id)
                                         .values(**_review_row(review)))
        if result.rowcount != 1:
            raise LookupError(f"review {review.id} does not exist")

    async def get(self, review_id: str) -> Review | None:
        row = (await self.conn.execute(assessment_reviews.select().where(assessment_reviews.c.id == review_id))).first()
        return _review(row) if row else None

    async def _where(self, *conditions: sa.ColumnElement[bool]) -> list[Review]:
        c = assessment_reviews.c
        rows = await self.conn.execute(assessment_reviews.select().where(*conditions)
                                       .order_by(c.reviewee_id, c.reviewer_id, c.kind))
        return [_review(r) for r in rows]

    async def for_assessment(self, assessment_id: str) -> list[Review]:
        return await self._where(assessment_reviews.c.assessment_id == assessment_id)

    async def for_reviewer(self, reviewer_id: str) -> list[Review]:
        return await self._where(assessment_reviews.c.reviewer_id == reviewer_id)

    async def for_reviewee(self, assessment_id: str, reviewee_id: str) -> list[Review]:
        c = assessment_reviews.c
        return await self._where(c.assessment_id == assessment_id, c.reviewee_id == reviewee_id)


class SqlAssessmentUnitOfWork(SqlUnitOfWork):
    """The core unit of work plus ``assessments`` and ``reviews`` (satisfies ``AssessmentUnitOfWork``)."""

    assessments: AssessmentRepository
    reviews: ReviewRepository

    async def __aenter__(self) -> SqlAssessmentUnitOfWork:
        await super().__aenter__()
        self.assessments = SqlAssessmentRepository(self.connection)
        self.reviews = SqlReviewRepository(self.connection)
        return self


class SqlAssessmentUnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def __call__(self) -> SqlAssessmentUnitOfWork:
        return SqlAssessmentUnitOfWork(self.engine)
