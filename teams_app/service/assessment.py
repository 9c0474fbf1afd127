"""Peer-assessment use cases: open and allocate, submit/edit/withdraw, remind, release, feedback, admin.

Persistence goes through :class:`AssessmentRepository` and :class:`ReviewRepository`, reached as
``uow.assessments`` and ``uow.reviews`` on an :class:`AssessmentUnitOfWork` (the core ``UnitOfWork`` plus those
two). Events are recorded on the unit of work and committed through the message bus like every other use case,
so the LRS outbox rows (reviewed/rated/voided) share the transaction.

Anonymity: :meth:`AssessmentService.feedback_view` returns a :class:`FeedbackView`, which has no field that can
hold a reviewer's id, and names only when the assessment is named. :meth:`admin_view` shows reviewer names only
when the assessment was opened with ``admin_sees_names`` (or is named); otherwise rows and flags carry review ids
and no reviewer label at all, and self-assessments are listed apart from peer reviews.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from teams_app.domain import assessment_events as aev
from teams_app.domain.assessment import (
    AggregateReport,
    Allocation,
    AllocationMode,
    Assessment,
    AssessmentStatus,
    AuditEntry,
    CarelessFlag,
    FeedbackView,
    LatePolicy,
    PersonResult,
    Review,
    ReviewKind,
    ReviewStatus,
    Rubric,
    ShortReviewee,
    aggregate,
    allocate_reviewers,
    build_feedback,
    release_decision,
    reminders_due,
    require_reviewer,
    unreachable,
)
from teams_app.domain.assessment.release import shown_criteria
from teams_app.domain.errors import InvalidInput, InvalidTransition, NotFound
from teams_app.domain.model import Match, Participant, Program, Round, stable_id
from teams_app.service.messagebus import MessageBus
from teams_app.service.ports import Clock, UnitOfWork

logger = logging.getLogger(__name__)


class AssessmentRepository(Protocol):
    async def add(self, assessment: Assessment) -> None: ...
    async def update(self, assessment: Assessment) -> None: ...
    async def get(self, assessment_id: str) -> Assessment | None: ...
    async def for_program(self, program_id: str) -> list[Assessment]: ...
    async def open(self) -> list[Assessment]:
        """Open assessments, claimed for this transaction where the store can lock (skip those already held)."""
        ...
    async def add_audit(self, entry: AuditEntry) -> None: ...
    async def audit(self, assessment_id: str) -> list[AuditEntry]:
        """Oldest first."""
        ...
    async def save_results(self, assessment_id: str, results: Sequence[PersonResult]) -> None: ...
    async def results(self, assessment_id: str) -> dict[str, PersonResult]: ...


class ReviewRepository(Protocol):
    async def add_many(self, reviews: Sequence[Review]) -> None: ...
    async def update(self, review: Review) -> None: ...
    async def get(self, review_id: str) -> Review | None: ...
    async def for_assessment(self, assessment_id: str) -> list[Review]: ...
    async def for_reviewer(self, reviewer_id: str) -> list[Review]: ...
    async def for_reviewee(self, assessment_id: str, reviewee_id: str) -> list[Review]: ...


class AssessmentUnitOfWork(UnitOfWork, Protocol):
    assessments: AssessmentRepository
    reviews: ReviewRepository


AssessmentUowFactory = Callable[[], AssessmentUnitOfWork]


@dataclass(frozen=True)
class OpenedAssessment:
    assessment: Assessment
    allocation: Allocation
    reviews: list[Review]
    notes: list[str] = field(default_factory=list)  # program-kind defaults applied (e.g. a lower k), in English


class ReleaseUnreachable(InvalidTransition):
    """Opening would withhold someone's feedback whatever reviewers do: who, why, and settings that would work."""

    def __init__(self, short: Sequence[tuple[str, ShortReviewee]], options: Sequence[str]) -> None:
        self.short = list(short)
        self.options = list(options)
        first = self.short[0][1]
        lines = [f"{len(self.short)} of the people assessed cannot reach the {first.needed} reviews their "
                 "feedback needs, so it would be withheld whatever the reviewers do:"]
        lines += [f"  {name}: {s.allocated} of {s.needed} reviews ({s.reason})" for name, s in self.short[:20]]
        if len(self.short) > 20:
            lines.append(f"  ... and {len(self.short) - 20} more")
        lines.append("Settings that would work:" if self.options else
                     "No setting found that would work: add people to the program or name the feedback.")
        lines += [f"  {option}" for option in self.options]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class ReviewTask:
    """A review someone has to write, with what the rubric card needs."""

    assessment: Assessment
    review: Review
    reviewee_name: str


@dataclass(frozen=True)
class ReleaseSummary:
    assessment: Assessment
    released: list[str]  # reviewee ids
    withheld: list[str]
    flags: list[CarelessFlag]


@dataclass(frozen=True)
class AdminReviewRow:
    """A peer review. Without ``admin_sees_names`` the reviewer is "": a pseudonym shared by a reviewer's rows
    would link them (and, in a pair, name the partner); the review id is what an admin acts on."""

    review_id: str
    reviewer: str  # the name if the assessment allows admins to see names, else ""
    reviewee: str
    kind: str
    status: str
    late: bool
    submitted_at: datetime | None


@dataclass(frozen=True)
class AdminSelfRow:
    """A self-assessment, shown apart from the peer reviews (it is the person's own view, not a reviewer's)."""

    review_id: str
    person: str
    status: str
    submitted_at: datetime | None


@dataclass(frozen=True)
class AdminPersonRow:
    reviewee: str
    n_reviews: int
    releasable: bool
    score_scaled: float | None
    criteria: dict[str, dict[str, float | None]]


@dataclass(frozen=True)
class AdminFlagRow:
    """A careless-review flag, named by the review(s) it concerns, never by a pseudonym tied to a person."""

    kind: str
    detail: str
    review_id: str  # the first of ``review_ids``
    review_ids: tuple[str, ...]
    reviewer: str = ""  # the name, only when admins may see names


@dataclass(frozen=True)
class AdminView:
    """Counts are of peer reviews; self-assessments are counted (and listed) apart."""

    assessment: Assessment
    pending: int
    submitted: int
    late: int
    people: list[AdminPersonRow]
    reviews: list[AdminReviewRow]
    flags: list[AdminFlagRow]
    audit: list[AuditEntry]
    self_pending: int = 0
    self_submitted: int = 0
    self_assessments: list[AdminSelfRow] = field(default_factory=list)


@dataclass(frozen=True)
class AssessmentSummary:
    """One line of ``assessment list``."""

    assessment: Assessment
    program_name: str
    round_number: int | None
    peer_submitted: int
    peer_total: int
    self_submitted: int
    self_total: int


class OverrideAction:
    EXTEND_DEADLINE = "extend_deadline"
    ALLOW_LATE = "allow_late"
    EXCLUDE_REVIEW = "exclude_review"
    REINSTATE_REVIEW = "reinstate_review"
    RELEASE_EARLY = "release_early"
    ALL = (EXTEND_DEADLINE, ALLOW_LATE, EXCLUDE_REVIEW, REINSTATE_REVIEW, RELEASE_EARLY)


class AssessmentService:
    def __init__(self, uow_factory: AssessmentUowFactory, bus: MessageBus, clock: Clock,
                 rubrics: Mapping[str, Rubric] | None = None) -> None:
        self._uow = uow_factory
        self._bus = bus
        self._clock = clock
        self._rubrics = dict(rubrics or {})  # built-in and program rubrics by id, read by adapters.rubric_files

    def add_rubrics(self, rubrics: Mapping[str, Rubric]) -> None:
        """Rubrics given at run time (e.g. a file on the command line), beside the program rubrics."""
        self._rubrics.update(rubrics)

    def rubric(self, rubric_id: str) -> Rubric:
        rubric = self._rubrics.get(rubric_id)
        if rubric is None:
            known = ", ".join(sorted(self._rubrics)) or "none loaded"
            raise InvalidInput("rubric", f"unknown rubric '{rubric_id}': choose one of {known}")
        return rubric

    # -- opening and allocation -------------------------------------------------------------------
    async def open_assessment(
        self,
        program_ref: str,
        *,
        deadline: datetime,
        round_id: str | None = None,
        mode: AllocationMode | str | None = None,
        rubric_id: str | None = None,
        reviewers_per_person: int = 3,
        self_assessment: bool = False,
        late_policy: LatePolicy | str = LatePolicy.REJECT,
        grace_hours: int = 0,
        reminder_hours: Sequence[int] = (48, 24),
        admin_sees_names: bool = False,
        seed: int | None = None,
        min_reviews: int | None = None,
        named_feedback: bool | None = None,
    ) -> OpenedAssessment:
        """Open an assessment for a round and allocate its reviewers in one transaction.

        Refuses (:class:`ReleaseUnreachable`, naming who and why, with settings that would work) when the
        allocation cannot give someone the k reviews their results need. With no mode, k or naming given, the
        program kind's defaults apply and always release: pair kinds name partner feedback (one partner
        cannot be anonymous), circles lower k to what the smallest circle gives (at least 2, stated on open).
        """
        now = self._clock.now()
        try:
            policy = LatePolicy(late_policy)
        except ValueError:
            raise InvalidInput("late_policy", f"must be one of {', '.join(p.value for p in LatePolicy)}") from None
        explicit = mode is not None or min_reviews is not None or named_feedback is not None
        async with self._uow() as uow:
            program = await _program(uow, program_ref)
            round_ = await self._round(uow, program, round_id)
            chosen_mode = AllocationMode(mode) if mode else (
                AllocationMode.CIRCLE if program.kind.is_group else AllocationMode.PARTNERS)
            rubric = self.rubric(rubric_id or program.rubric)
            assessment_id = stable_id(program.id, round_.id, "assessment", rubric.id)
            if await uow.assessments.get(assessment_id) is not None:
                raise InvalidTransition(f"an assessment with rubric '{rubric.id}' is already open for round "
                                        f"{round_.number}")
            if seed is None:
                seed = int(assessment_id.replace("-", "")[:8], 16)
            named = program.named_feedback if named_feedback is None else named_feedback
            assessment = Assessment(
                assessment_id, program.id, round_.id, rubric, chosen_mode, now, deadline, seed,
                reviewers_per_person=reviewers_per_person, self_assessment=self_assessment,
                min_reviews=min_reviews or program.min_reviews,
                named_feedback=named and chosen_mode is not AllocationMode.PEERS,
                admin_sees_names=admin_sees_names, late_policy=policy, grace_hours=grace_hours,
                reminder_hours=tuple(sorted(set(reminder_hours), reverse=True)),
            ).validated()
            matches = await uow.matches.for_round(round_.id)
            today = now.date()
            active = [e.participant_id for e in await uow.enrollments.for_program(program.id) if e.is_active_on(today)]
            if chosen_mode is AllocationMode.PEERS:
                ids = active
            else:
                ids = sorted({pid for m in matches for pid in m.participant_ids})
            people = await uow.participants.get_many(ids)
            allocation = allocate_reviewers(people, chosen_mode, seed=seed, matches=matches,
                                            per_person=reviewers_per_person, self_assessment=self_assessment)
            reviews = [Review.for_assignment(assessment.id, a) for a in allocation.assignments]
            if not people:
                raise InvalidTransition(
                    f"nobody to review in round {round_.number}: "
                    + ("no active participants" if chosen_mode is AllocationMode.PEERS else "the round has no matches"))
            population = [p.id for p in people]
            short = unreachable(allocation, population, assessment.threshold, reviewers_per_person)
            notes: list[str] = []
            if short and not explicit:
                assessment, notes = _kind_default(assessment, short)
                short = unreachable(allocation, population, assessment.threshold, reviewers_per_person)
            if short:
                names = {p.id: p.display_name for p in people}
                active_people = await uow.participants.get_many(active)
                raise ReleaseUnreachable(
                    sorted(((names.get(s.reviewee_id, s.reviewee_id), s) for s in short), key=lambda x: x[0]),
                    _release_options(assessment, short, people, active_people, matches, seed))
            await uow.assessments.add(assessment)
            await uow.reviews.add_many(reviews)
            uow.events.append(aev.AssessmentOpened(f"assessment-opened/{assessment.id}", now, program.id,
                                                   assessment.id, round_.id, deadline, len(reviews)))
            for review in reviews:
                uow.events.append(aev.ReviewAssigned(
                    f"assessment-assigned/{review.id}", now, program.id, assessment.id, review.id,
                    review.reviewer_id, review.reviewee_id, review.kind is ReviewKind.SELF, deadline))
            await self._bus.commit(uow)
        logger.info("opened assessment %s for round %s: %s reviews, %s unfilled", assessment.id, round_.number,
                    len(reviews), len(allocation.unfilled))
        return OpenedAssessment(assessment, allocation, reviews, notes)

    @staticmethod
    async def _round(uow: AssessmentUnitOfWork, program: Program, round_id: str | None) -> Round:
        round_ = await uow.rounds.get(round_id) if round_id else await uow.rounds.latest(program.id)
        if round_ is None or round_.program_id != program.id:
            raise NotFound("round", round_id or f"latest of {program.name}")
        return round_

    # -- reviewers --------------------------------------------------------------------------------
    async def my_reviews(self, reviewer_id: str) -> list[ReviewTask]:
        """Reviews still to write (or still editable) in open assessments, for the reviewer's cards."""
        async with self._uow() as uow:
            tasks: list[ReviewTask] = []
            assessments: dict[str, Assessment | None] = {}
            for review in await uow.reviews.for_reviewer(reviewer_id):
                if review.assessment_id not in assessments:
                    assessments[review.assessment_id] = await uow.assessments.get(review.assessment_id)
                assessment = assessments[review.assessment_id]
                if assessment is None or assessment.status is not AssessmentStatus.OPEN:
                    continue
                if review.status is ReviewStatus.EXCLUDED:
                    continue
                reviewee = await uow.participants.get(review.reviewee_id)
                tasks.append(ReviewTask(assessment, review, reviewee.display_name if reviewee else ""))
            return tasks

    async def get_task(self, review_id: str, reviewer_id: str) -> ReviewTask:
        async with self._uow() as uow:
            return await load_review_task(uow, review_id, reviewer_id)

    async def submit_review(self, review_id: str, reviewer_id: str, ratings: Mapping[str, object],
                            comments: Mapping[str, object] | None = None, comment: object = "") -> Review:
        """Submit, or edit before the deadline. Bad input raises InvalidInputs naming each field."""
        now = self._clock.now()
        async with self._uow() as uow:
            review, assessment = await self._review(uow, review_id)
            require_reviewer(review, reviewer_id)
            review.check_window(assessment, now)  # a closed window is the first thing to tell
            submission = assessment.rubric.validate_submission(ratings, comments, comment,
                                                               allow_cant_judge=may_skip(assessment, review))
            updated = review.submit(assessment, submission, now)
            await uow.reviews.update(updated)
            replaces = review.statement_key if review.status is ReviewStatus.SUBMITTED else ""
            uow.events.append(_submitted_event(assessment, updated, now, replaces))
            await self._bus.commit(uow)
        return updated

    async def withdraw_review(self, review_id: str, reviewer_id: str) -> Review:
        now = self._clock.now()
        async with self._uow() as uow:
            review, assessment = await self._review(uow, review_id)
            require_reviewer(review, reviewer_id)
            withdrawn = review.withdraw(assessment)
            await uow.reviews.update(withdrawn)
            uow.events.append(aev.ReviewWithdrawn(
                f"assessment-withdrawn/{review.id}/v{review.version}", now, assessment.program_id, assessment.id,
                review.id, review.reviewer_id, review.statement_key))
            await self._bus.commit(uow)
        return withdrawn

    @staticmethod
    async def _review(uow: AssessmentUnitOfWork, review_id: str) -> tuple[Review, Assessment]:
        review = await uow.reviews.get(review_id)
        if review is None:
            raise NotFound("review", review_id)
        assessment = await uow.assessments.get(review.assessment_id)
        if assessment is None:
            raise NotFound("assessment", review.assessment_id)
        return review, assessment

    async def participant(self, participant_id: str) -> Participant | None:
        async with self._uow() as uow:
            return await uow.participants.get(participant_id)

    async def program(self, program_id: str) -> Program | None:
        async with self._uow() as uow:
            return await uow.programs.get(program_id)

    async def recognition(self, reviewer_id: str, program_id: str) -> int:
        """Peer reviews this person has submitted in the program (the count on the thank-you card)."""
        async with self._uow() as uow:
            return await _recognition(uow, reviewer_id, program_id)

    # -- scheduler --------------------------------------------------------------------------------
    async def send_reminders(self) -> list[aev.ReviewReminderDue]:
        """Record a reminder for every pending review whose next reminder moment passed (idempotent)."""
        now = self._clock.now()
        sent: list[aev.ReviewReminderDue] = []
        async with self._uow() as uow:
            for assessment in await uow.assessments.open():
                due = reminders_due(assessment, await uow.reviews.for_assessment(assessment.id), now)
                for review, number in due:
                    await uow.reviews.update(replace(review, reminders_sent=number))
                    event = aev.ReviewReminderDue(
                        f"assessment-reminder/{review.id}/{number}", now, assessment.program_id, assessment.id,
                        review.id, review.reviewer_id, assessment.deadline, number)
                    uow.events.append(event)
                    sent.append(event)
            await self._bus.commit(uow)
        return sent

    async def release_due(self) -> list[ReleaseSummary]:
        """Release every assessment whose deadline (plus grace) passed; 'accept' policies wait for an admin."""
        now = self._clock.now()
        summaries: list[ReleaseSummary] = []
        async with self._uow() as uow:
            for assessment in await uow.assessments.open():
                if assessment.late_policy is LatePolicy.ACCEPT or now < assessment.closes_at:
                    continue
                summaries.append(await self._release(uow, assessment, now, early=False))
            await self._bus.commit(uow)
        return summaries

    async def release_results(self, assessment_id: str) -> ReleaseSummary:
        """Release after the deadline (early release is an admin override)."""
        now = self._clock.now()
        async with self._uow() as uow:
            assessment = await _assessment(uow, assessment_id)
            summary = await self._release(uow, assessment, now, early=False)
            await self._bus.commit(uow)
        return summary

    async def _release(self, uow: AssessmentUnitOfWork, assessment: Assessment, now: datetime, *,
                       early: bool) -> ReleaseSummary:
        released_assessment = assessment.release(now, early=early)
        reviews = await uow.reviews.for_assessment(assessment.id)
        report = aggregate(assessment.rubric, reviews)
        await uow.assessments.update(released_assessment)
        await uow.assessments.save_results(assessment.id, list(report.results.values()))
        released: list[str] = []
        withheld: list[str] = []
        reviewees = sorted({r.reviewee_id for r in reviews})
        for reviewee in reviewees:
            result = report.results.get(reviewee)
            decision = release_decision(assessment, result.n_reviews if result else 0)
            shown = shown_criteria(assessment, result) if result is not None else []
            if decision.released and result is not None and shown:
                released.append(reviewee)
                # Only criteria rated by at least k reviewers leave the admin view (the record included).
                ids = {c.criterion_id for c in shown}
                rubric = replace(assessment.rubric, criteria=tuple(c for c in assessment.rubric.criteria
                                                                   if c.id in ids))
                score = rubric.score({c.criterion_id: c.calibrated if c.calibrated is not None else c.mean or 0.0
                                      for c in shown})
                uow.events.append(aev.FeedbackReleased(
                    f"assessment-released/{assessment.id}/{reviewee}", now, assessment.program_id, assessment.id,
                    assessment.round_id, reviewee, result.n_reviews, score.raw, score.min, score.max,
                    _criterion_ratings(rubric, result)))
            else:
                withheld.append(reviewee)
                uow.events.append(aev.FeedbackWithheld(
                    f"assessment-withheld/{assessment.id}/{reviewee}", now, assessment.program_id, assessment.id,
                    reviewee, decision.n_reviews, decision.needed))
        written: dict[str, int] = defaultdict(int)
        for review in reviews:
            if review.counted and review.kind is ReviewKind.PEER:
                written[review.reviewer_id] += 1
        for reviewer, count in sorted(written.items()):
            total = await _recognition(uow, reviewer, assessment.program_id)
            uow.events.append(aev.ReviewerThanked(
                f"assessment-thanks/{assessment.id}/{reviewer}", now, assessment.program_id, assessment.id,
                reviewer, count, total))
        for index, flag in enumerate(report.flags):
            uow.events.append(aev.CarelessReviewFlagged(
                f"assessment-flag/{assessment.id}/{index}", now, assessment.program_id, assessment.id,
                flag.reviewer_id, flag.kind.value, flag.detail, flag.review_id))
        logger.info("released assessment %s: %s released, %s withheld, %s flags", assessment.id, len(released),
                    len(withheld), len(report.flags))
        return ReleaseSummary(released_assessment, released, withheld, list(report.flags))

    # -- what people see --------------------------------------------------------------------------
    async def feedback_view(self, assessment_id: str, participant_id: str) -> FeedbackView:
        """The assessed person's own feedback; reviewer identities only when the feedback is named."""
        async with self._uow() as uow:
            return await load_feedback_view(uow, assessment_id, participant_id)

    async def my_feedback(self, participant_id: str) -> list[FeedbackView]:
        """Released feedback of every assessment the person was assessed in, newest first."""
        async with self._uow() as uow:
            assessment_ids: list[str] = []
            for enrollment in await uow.enrollments.for_participant(participant_id):
                for assessment in await uow.assessments.for_program(enrollment.program_id):
                    if assessment.status is AssessmentStatus.RELEASED:
                        assessment_ids.append(assessment.id)
        return [await self.feedback_view(aid, participant_id) for aid in reversed(assessment_ids)]

    async def admin_view(self, assessment_id: str) -> AdminView:
        async with self._uow() as uow:
            assessment = await _assessment(uow, assessment_id)
            reviews = await uow.reviews.for_assessment(assessment.id)
            people_ids = sorted({r.reviewer_id for r in reviews} | {r.reviewee_id for r in reviews})
            people = {p.id: p for p in await uow.participants.get_many(people_ids)}
            names = assessment.admin_sees_names or assessment.named_feedback
            report: AggregateReport = aggregate(assessment.rubric, reviews)
            person_rows: list[AdminPersonRow] = []
            for reviewee in sorted({r.reviewee_id for r in reviews}, key=lambda p: _name(people, p)):
                result = report.results.get(reviewee)
                n = result.n_reviews if result else 0
                person_rows.append(AdminPersonRow(
                    _name(people, reviewee), n, release_decision(assessment, n).released,
                    result.score.scaled if result and result.score else None,
                    {c.criterion_id: {"mean": c.mean, "median": c.median, "calibrated": c.calibrated,
                                      "uncertainty": c.uncertainty, "self": c.self_level}
                     for c in (result.criteria if result else ())}))
            peer = [r for r in reviews if r.kind is ReviewKind.PEER]
            selves = [r for r in reviews if r.kind is ReviewKind.SELF]
            # Ordered by reviewee, then by review id: never by reviewer, so row order says nothing about who.
            review_rows = [
                AdminReviewRow(r.id, _name(people, r.reviewer_id) if names else "", _name(people, r.reviewee_id),
                               r.kind.value, r.status.value, r.late, r.submitted_at)
                for r in sorted(peer, key=lambda r: (_name(people, r.reviewee_id), r.id))
            ]
            self_rows = [AdminSelfRow(r.id, _name(people, r.reviewee_id), r.status.value, r.submitted_at)
                         for r in sorted(selves, key=lambda r: _name(people, r.reviewee_id))]
            by_reviewer: dict[str, list[str]] = defaultdict(list)
            for r in sorted(peer, key=lambda r: r.id):
                if r.counted:
                    by_reviewer[r.reviewer_id].append(r.id)
            flags: list[AdminFlagRow] = []
            for f in report.flags:
                ids = (f.review_id,) if f.review_id else tuple(by_reviewer.get(f.reviewer_id, ()))
                flags.append(AdminFlagRow(f.kind.value, f.detail, ids[0] if ids else "", ids,
                                          _name(people, f.reviewer_id) if names else ""))
            return AdminView(
                assessment,
                pending=sum(1 for r in peer if r.status in (ReviewStatus.PENDING, ReviewStatus.WITHDRAWN)),
                submitted=sum(1 for r in peer if r.counted),
                late=sum(1 for r in peer if r.counted and r.late),
                people=person_rows, reviews=review_rows, flags=flags,
                audit=await uow.assessments.audit(assessment.id),
                self_pending=sum(1 for r in selves if r.status in (ReviewStatus.PENDING, ReviewStatus.WITHDRAWN)),
                self_submitted=sum(1 for r in selves if r.counted),
                self_assessments=self_rows,
            )

    async def list_assessments(self, program_ref: str | None = None) -> list[AssessmentSummary]:
        """Assessments of one program (or all), newest deadline first, with peer and self counts."""
        async with self._uow() as uow:
            programs = [await _program(uow, program_ref)] if program_ref else await uow.programs.all()
            out: list[AssessmentSummary] = []
            for program in programs:
                for assessment in await uow.assessments.for_program(program.id):
                    reviews = await uow.reviews.for_assessment(assessment.id)
                    round_ = await uow.rounds.get(assessment.round_id)
                    peer = [r for r in reviews if r.kind is ReviewKind.PEER]
                    selves = [r for r in reviews if r.kind is ReviewKind.SELF]
                    out.append(AssessmentSummary(
                        assessment, program.name, round_.number if round_ else None,
                        sum(1 for r in peer if r.counted), len(peer),
                        sum(1 for r in selves if r.counted), len(selves)))
        return sorted(out, key=lambda a: (a.assessment.deadline, a.assessment.id), reverse=True)

    # -- admin overrides --------------------------------------------------------------------------
    async def admin_override(self, assessment_id: str, actor: str, action: str, reason: str, *,
                             review_id: str = "", deadline: datetime | None = None,
                             until: datetime | None = None) -> AuditEntry:
        """Change what the rules would otherwise decide; every override is kept in the audit trail."""
        if action not in OverrideAction.ALL:
            raise InvalidInput("action", f"must be one of {', '.join(OverrideAction.ALL)}")
        now = self._clock.now()
        async with self._uow() as uow:
            assessment = await _assessment(uow, assessment_id)
            details: dict[str, str] = {}
            target = ""
            entry = AuditEntry.create(assessment.id, actor, action, reason, now, review_id)  # validates early
            if action == OverrideAction.EXTEND_DEADLINE:
                if deadline is None:
                    raise InvalidInput("deadline", "give the new deadline")
                await uow.assessments.update(assessment.extend_deadline(deadline, now))
                details = {"from": assessment.deadline.isoformat(), "to": deadline.isoformat()}
            elif action == OverrideAction.RELEASE_EARLY:
                summary = await self._release(uow, assessment, now, early=True)
                details = {"released": str(len(summary.released)), "withheld": str(len(summary.withheld))}
            else:
                review = await uow.reviews.get(review_id) if review_id else None
                if review is None or review.assessment_id != assessment.id:
                    raise NotFound("review", review_id or "(none given)")
                target = review.id
                assessment.require_open()
                if action == OverrideAction.ALLOW_LATE:
                    if until is None or until <= now:
                        raise InvalidInput("until", "give a moment in the future")
                    await uow.reviews.update(replace(review, allow_late_until=until))
                    details = {"until": until.isoformat()}
                elif action == OverrideAction.EXCLUDE_REVIEW:
                    excluded = review.exclude(reason.strip())
                    await uow.reviews.update(excluded)
                    details = {"previous_status": review.status.value}
                    if review.status is ReviewStatus.SUBMITTED:
                        uow.events.append(aev.ReviewWithdrawn(
                            f"assessment-excluded/{review.id}/v{review.version}", now, assessment.program_id,
                            assessment.id, review.id, review.reviewer_id, review.statement_key, by_admin=True))
                else:  # reinstate
                    reinstated = review.reinstate()
                    if reinstated.status is ReviewStatus.SUBMITTED:
                        # The old statement was voided: record the same content under a new version.
                        reinstated = replace(reinstated, version=reinstated.version + 1)
                        uow.events.append(_submitted_event(assessment, reinstated, now, ""))
                    await uow.reviews.update(reinstated)
            entry = replace(entry, target=target, details=details)
            await uow.assessments.add_audit(entry)
            uow.events.append(aev.AssessmentOverridden(f"assessment-override/{entry.id}", now,
                                                       assessment.program_id, assessment.id, entry.id, action,
                                                       actor))
            await self._bus.commit(uow)
        logger.info("admin override %s on assessment %s (target %s)", action, assessment_id, target or "-")
        return entry


# -- helpers -------------------------------------------------------------------------------------------
async def load_review_task(uow: AssessmentUnitOfWork, review_id: str, reviewer_id: str) -> ReviewTask:
    """A reviewer's task as the unit of work sees it (also used inside the transaction by notifications)."""
    review, assessment = await AssessmentService._review(uow, review_id)
    require_reviewer(review, reviewer_id)
    reviewee = await uow.participants.get(review.reviewee_id)
    return ReviewTask(assessment, review, reviewee.display_name if reviewee else "")


async def load_feedback_view(uow: AssessmentUnitOfWork, assessment_id: str, participant_id: str) -> FeedbackView:
    """The assessed person's own feedback; reviewer identities only when the feedback is named."""
    assessment = await _assessment(uow, assessment_id)
    program = await uow.programs.get(assessment.program_id)
    reviews = [r for r in await uow.reviews.for_reviewee(assessment.id, participant_id) if r.counted]
    result: PersonResult | None = None
    if assessment.status is AssessmentStatus.RELEASED:
        result = (await uow.assessments.results(assessment.id)).get(participant_id)
    names: dict[str, str] = {}
    if assessment.named_feedback:
        names = {p.id: p.display_name for p in await uow.participants.get_many(
            sorted({r.reviewer_id for r in reviews}))}
    view = build_feedback(assessment, result, reviews, framework=program.framework if program else None,
                          reviewer_names=names)
    return replace(view, reviewee_id=participant_id)


async def _program(uow: AssessmentUnitOfWork, ref: str) -> Program:
    program = await uow.programs.get(ref) or await uow.programs.get_by_name(ref)
    if program is None:
        raise NotFound("program", ref)
    return program


async def _assessment(uow: AssessmentUnitOfWork, assessment_id: str) -> Assessment:
    assessment = await uow.assessments.get(assessment_id)
    if assessment is None:
        raise NotFound("assessment", assessment_id)
    return assessment


async def _recognition(uow: AssessmentUnitOfWork, reviewer_id: str, program_id: str) -> int:
    in_program = {a.id for a in await uow.assessments.for_program(program_id)}
    return sum(1 for r in await uow.reviews.for_reviewer(reviewer_id)
               if r.assessment_id in in_program and r.counted and r.kind is ReviewKind.PEER)


def _criterion_ratings(rubric: Rubric, result: PersonResult) -> tuple[aev.CriterionRating, ...]:
    out: list[aev.CriterionRating] = []
    for criterion in rubric.criteria:
        cr = result.criterion(criterion.id)
        estimate = cr.calibrated if cr.calibrated is not None else cr.mean
        if estimate is not None:
            out.append(aev.CriterionRating(criterion.id, estimate, criterion.min_level, criterion.max_level))
    return tuple(out)


def may_skip(assessment: Assessment, review: Review) -> bool:
    """Peers from outside the person's team may answer "can't judge" on a criterion they did not see."""
    return assessment.mode is AllocationMode.PEERS and review.kind is ReviewKind.PEER


def _submitted_event(assessment: Assessment, review: Review, now: datetime, replaces: str) -> aev.ReviewSubmitted:
    # "Can't judge" criteria are absent: the score is over the criteria this reviewer rated.
    rated = tuple(c for c in assessment.rubric.criteria if c.id in review.ratings)
    score = replace(assessment.rubric, criteria=rated).score(review.ratings)
    ratings = tuple(aev.CriterionRating(c.id, review.ratings[c.id], c.min_level, c.max_level) for c in rated)
    return aev.ReviewSubmitted(
        review.statement_key, now, assessment.program_id, assessment.id, assessment.round_id, review.id,
        review.reviewer_id, review.reviewee_id, review.kind is ReviewKind.SELF, review.version, ratings,
        score.raw, score.min, score.max, review.comment, review.late, replaces)


def _kind_default(assessment: Assessment, short: Sequence[ShortReviewee]) -> tuple[Assessment, list[str]]:
    """The program kind's default when its k cannot be reached: named partner feedback for pairs (a single
    partner cannot be anonymous), a lower k (at least 2) for circles, named when a circle gives only one."""
    fewest = min(s.allocated for s in short)
    if assessment.mode is AllocationMode.CIRCLE and fewest >= 2:
        note = (f"k lowered from {assessment.min_reviews} to {fewest}: the smallest circle gives {fewest} reviews "
                "per person. Anonymity is weaker: a person's feedback comes from only {fewest} circle members.")
        return replace(assessment, min_reviews=fewest).validated(), [note.replace("{fewest}", str(fewest))]
    if assessment.mode is AllocationMode.PEERS:
        return assessment, []
    note = ("partner feedback is named: each person has too few reviewers to stay anonymous, so the reviewers' "
            "names are shown with it (the reviewers are told on their card).")
    return replace(assessment, named_feedback=True).validated(), [note]


def _release_options(assessment: Assessment, short: Sequence[ShortReviewee], people: Sequence[Participant],
                     active: Sequence[Participant], matches: Sequence[Match], seed: int) -> list[str]:
    """Settings (as CLI options) checked to give everyone their threshold with this round's people."""
    options: list[str] = []
    k = assessment.min_reviews
    if assessment.reviewers_per_person < k and assessment.mode is not AllocationMode.PARTNERS:
        more = allocate_reviewers(people, assessment.mode, seed=seed, matches=matches, per_person=k)
        if not unreachable(more, [p.id for p in people], k):
            options.append(f"--reviewers {k}: ask {k} reviewers per person")
    if assessment.mode is not AllocationMode.PEERS and len(active) > k:
        peers = allocate_reviewers(active, AllocationMode.PEERS, seed=seed, per_person=k)
        if not unreachable(peers, [p.id for p in active], k):
            options.append(f"--mode peers --reviewers {k}: {k} reviewers from outside each person's team "
                           "(they may not have met the person; they can answer \"can't judge\")")
    fewest = min(s.allocated for s in short)
    if 2 <= fewest < k:
        options.append(f"--min-reviews {fewest}: k={fewest}, weaker anonymity (feedback shared after {fewest} "
                       "reviews, so each comment is one of only {fewest})".replace("{fewest}", str(fewest)))
    if assessment.mode is not AllocationMode.PEERS and fewest >= 1 and not assessment.named_feedback:
        options.append("--named: no anonymity, reviewers' names are shown with their feedback (released with "
                       "one review)")
    return options


def _name(people: Mapping[str, Participant], pid: str) -> str:
    person = people.get(pid)
    return person.display_name if person else pid
