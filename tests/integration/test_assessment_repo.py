"""Assessment persistence on SQLite and PostgreSQL (the shared ``engine`` fixture runs each test on both)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from teams_app.adapters.clock import FixedClock
from teams_app.adapters.db.assessment_repo import SqlAssessmentUnitOfWorkFactory
from teams_app.adapters.rubric_files import builtin_rubrics
from teams_app.domain.assessment import (
    AssessmentStatus,
    Assignment,
    AuditEntry,
    CriterionResult,
    PersonResult,
    Review,
    ReviewKind,
    ReviewStatus,
    Score,
)
from teams_app.domain.assessment import events as aev
from teams_app.domain.errors import InvalidInputs
from teams_app.domain.events import Event
from teams_app.domain.model import Profile
from teams_app.service.assessment import AssessmentService
from teams_app.service.messagebus import MessageBus
from teams_app.service.use_cases import CoachingService, ParticipantInput

LEVELS = {"active-listening": 3, "powerful-questions": 2, "goal-setting": 4, "giving-feedback": 3}


async def cohort(service: CoachingService, n: int = 8) -> list[str]:
    await service.create_program("Coaching", "peer_pairs", "weekly")
    ids = []
    for i in range(n):
        person = await service.enroll("Coaching", ParticipantInput(
            email=f"person{i}@example.com", display_name=f"Person {i}",
            profile=Profile.build(department=f"dept{i % 4}", time_zone="Europe/Berlin", languages="en")),
            consent=True)
        ids.append(person.id)
    await service.run_round("Coaching", seed=1)
    return ids


@pytest.fixture
def assessments(engine: AsyncEngine, bus: MessageBus, clock: FixedClock) -> AssessmentService:
    return AssessmentService(SqlAssessmentUnitOfWorkFactory(engine), bus, clock, builtin_rubrics())


async def test_assessment_and_reviews_round_trip(service: CoachingService, assessments: AssessmentService,
                                                 engine: AsyncEngine, clock: FixedClock) -> None:
    await cohort(service)
    opened = await assessments.open_assessment("Coaching", deadline=clock.now() + timedelta(days=7), mode="peers",
                                               reviewers_per_person=3, self_assessment=True, late_policy="grace",
                                               grace_hours=12, reminder_hours=(24, 48))
    uow = SqlAssessmentUnitOfWorkFactory(engine)()
    async with uow:
        loaded = await uow.assessments.get(opened.assessment.id)
        assert loaded == opened.assessment
        assert loaded is not None and loaded.reminder_hours == (48, 24) and loaded.rubric.criteria[0].levels
        assert [a.id for a in await uow.assessments.open()] == [loaded.id]
        assert [a.id for a in await uow.assessments.for_program(loaded.program_id)] == [loaded.id]
        stored = await uow.reviews.for_assessment(loaded.id)
        assert sorted(r.id for r in stored) == sorted(r.id for r in opened.reviews)
        assert sum(1 for r in stored if r.kind is ReviewKind.SELF) == 8
        some = stored[0]
        assert await uow.reviews.get(some.id) == some
        assert all(r.reviewer_id == some.reviewer_id for r in await uow.reviews.for_reviewer(some.reviewer_id))
        about = await uow.reviews.for_reviewee(loaded.id, some.reviewee_id)
        assert {r.reviewee_id for r in about} == {some.reviewee_id} and len(about) == 4  # 3 peers + self


async def test_submitted_review_and_release_survive_a_round_trip(service: CoachingService,
                                                                 assessments: AssessmentService,
                                                                 engine: AsyncEngine, clock: FixedClock) -> None:
    await cohort(service)
    opened = await assessments.open_assessment("Coaching", deadline=clock.now() + timedelta(days=7), mode="peers")
    for review in opened.reviews:
        await assessments.submit_review(review.id, review.reviewer_id, LEVELS, {"goal-setting": "clear"}, "thanks")
    first = opened.reviews[0]
    uow = SqlAssessmentUnitOfWorkFactory(engine)()
    async with uow:
        stored = await uow.reviews.get(first.id)
        assert stored is not None and stored.status is ReviewStatus.SUBMITTED and stored.version == 1
        assert stored.ratings == LEVELS and stored.comments == {"goal-setting": "clear"}
        assert stored.submitted_at == clock.now()
    clock.advance(timedelta(days=8))
    summary = await assessments.release_results(opened.assessment.id)
    assert len(summary.released) == 8
    view = await assessments.feedback_view(opened.assessment.id, first.reviewee_id)
    assert view.released and view.n_reviews == 3 and len(view.comments) == 6
    admin = await assessments.admin_view(opened.assessment.id)
    assert admin.assessment.status is AssessmentStatus.RELEASED and admin.submitted == 24


async def test_results_and_audit_round_trip(service: CoachingService, assessments: AssessmentService,
                                            engine: AsyncEngine, clock: FixedClock) -> None:
    ids = await cohort(service, 2)
    opened = await assessments.open_assessment("Coaching", deadline=clock.now() + timedelta(days=7))
    result = PersonResult(ids[0], 2, (CriterionResult("active-listening", 2, 3.5, 3.5, 3.41, 0.3, 4),
                                      CriterionResult("goal-setting", 0, None, None, None, None, None)),
                          Score(12.5, 4, 16))
    entry = AuditEntry.create(opened.assessment.id, "admin@example.com", "extend_deadline", "holidays", clock.now(),
                              details={"to": "2026-12-01"})
    later = AuditEntry.create(opened.assessment.id, "admin@example.com", "allow_late", "ill", clock.now()
                              + timedelta(minutes=1), target=opened.reviews[0].id)
    uow = SqlAssessmentUnitOfWorkFactory(engine)()
    async with uow:
        await uow.assessments.save_results(opened.assessment.id, [result])
        await uow.assessments.save_results(opened.assessment.id, [result])  # replaces, no duplicate key
        await uow.assessments.add_audit(later)
        await uow.assessments.add_audit(entry)
        await uow.commit()
    async with uow:
        assert await uow.assessments.results(opened.assessment.id) == {ids[0]: result}
        assert await uow.assessments.audit(opened.assessment.id) == [entry, later]


async def test_duplicate_assignment_is_refused_by_the_database(service: CoachingService,
                                                               assessments: AssessmentService,
                                                               engine: AsyncEngine, clock: FixedClock) -> None:
    await cohort(service, 2)
    opened = await assessments.open_assessment("Coaching", deadline=clock.now() + timedelta(days=7))
    review = opened.reviews[0]
    twin = replace(Review.for_assignment(review.assessment_id, Assignment(review.reviewer_id, review.reviewee_id)),
                   id="another-id-for-the-same-assignment")
    uow = SqlAssessmentUnitOfWorkFactory(engine)()
    with pytest.raises(IntegrityError):
        async with uow:
            await uow.reviews.add_many([twin])
    async with uow:
        with pytest.raises(LookupError):
            await uow.reviews.update(replace(review, id="missing"))


async def test_a_refused_submission_changes_nothing(service: CoachingService, assessments: AssessmentService,
                                                    engine: AsyncEngine, bus: MessageBus, clock: FixedClock) -> None:
    seen: list[Event] = []

    async def record(event: Event, uow: object) -> None:
        seen.append(event)

    bus.in_transaction(aev.ReviewSubmitted, record)
    await cohort(service, 2)
    opened = await assessments.open_assessment("Coaching", deadline=clock.now() + timedelta(days=7))
    review = opened.reviews[0]
    with pytest.raises(InvalidInputs):
        await assessments.submit_review(review.id, review.reviewer_id, {"active-listening": 7})
    task = await assessments.get_task(review.id, review.reviewer_id)
    assert task.review.status is ReviewStatus.PENDING and task.reviewee_name.startswith("Person")
    assert seen == []


async def test_erasing_a_person_erases_their_reviews(service: CoachingService, assessments: AssessmentService,
                                                     engine: AsyncEngine, clock: FixedClock) -> None:
    ids = await cohort(service, 2)
    opened = await assessments.open_assessment("Coaching", deadline=clock.now() + timedelta(days=7))
    await service.leave("Coaching", ids[0], erase=True)
    async with engine.connect() as conn:
        count = (await conn.execute(sa.text(
            "SELECT count(*) FROM assessment_reviews WHERE reviewer_id = :p OR reviewee_id = :p"), {"p": ids[0]}
        )).scalar_one()
    assert count == 0
    assert len(opened.reviews) == 2
