"""Assessment use cases over in-memory fakes: open/allocate, submit/edit/withdraw, remind, release, views, admin."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import timedelta
from typing import Any

import pytest

from teams_app.adapters.rubric_files import builtin_rubrics, parse_rubric
from teams_app.domain.assessment import AssessmentStatus, LatePolicy, ReviewKind, ReviewStatus
from teams_app.domain.assessment import events as aev
from teams_app.domain.errors import InvalidInput, InvalidInputs, InvalidTransition, NotAllowed, NotFound
from teams_app.domain.events import Event
from teams_app.domain.model import (
    Enrollment,
    EnrollmentStatus,
    Match,
    MatchMember,
    Participant,
    Profile,
    Program,
    Role,
    Round,
)
from teams_app.service.assessment import AssessmentService, OverrideAction
from teams_app.service.messagebus import MessageBus
from tests.unit.assessment_fakes import FakeClock, FakeUowFactory

LEVELS = {"active-listening": 3, "powerful-questions": 2, "goal-setting": 4, "giving-feedback": 3}


class Harness:
    def __init__(self, **program_options: Any) -> None:
        self.clock = FakeClock()
        self.uow = FakeUowFactory()
        self.bus = MessageBus()
        self.events: list[Event] = []

        async def record(event: Event, uow: object) -> None:
            self.events.append(event)

        self.bus.in_transaction(Event, record)
        self.service = AssessmentService(self.uow, self.bus, self.clock, builtin_rubrics())
        self.program = Program.create("Coaching", program_options.pop("kind", "peer_pairs"), "weekly",
                                      program_id="prog", **program_options)
        store = self.uow.store
        store.programs[self.program.id] = self.program
        self.round = Round("round-1", self.program.id, 1, self.clock.now(), seed=1)
        store.rounds[self.round.id] = self.round
        self.deadline = self.clock.now() + timedelta(days=7)

    def add_people(self, count: int, departments: int = 4) -> list[Participant]:
        people = []
        for i in range(count):
            person = Participant.create(f"p{i}@example.com", f"Person {i}", participant_id=f"p{i}",
                                        profile=Profile(department=f"d{i % departments}"))
            self.uow.store.participants[person.id] = person
            self.uow.store.enrollments[(self.program.id, person.id)] = Enrollment(
                self.program.id, person.id, EnrollmentStatus.ACTIVE, self.clock.now(), self.clock.now())
            people.append(person)
        return people

    def add_match(self, *ids: str) -> None:
        mid = f"m{len(self.uow.store.matches)}"
        self.uow.store.matches[mid] = Match(mid, self.round.id, self.program.id,
                                            tuple(MatchMember(i, Role.PEER) for i in ids))

    def of(self, kind: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


async def submit_all(h: Harness, assessment_id: str, skip: frozenset[str] = frozenset()) -> None:
    for index, review in enumerate(list(h.uow.store.reviews.values())):
        if review.assessment_id == assessment_id and review.id not in skip:
            await h.service.submit_review(review.id, review.reviewer_id, LEVELS, comment=f"useful session #{index}")


async def test_open_for_pairs_allocates_partners_and_tells_each_reviewer() -> None:
    h = Harness()
    h.add_people(4)
    h.add_match("p0", "p1")
    h.add_match("p2", "p3")
    opened = await h.service.open_assessment("Coaching", deadline=h.deadline, self_assessment=True)
    assert opened.assessment.mode.value == "partners" and opened.assessment.rubric.id == "coaching-skills"
    pairs = {(r.reviewer_id, r.reviewee_id, r.kind) for r in opened.reviews}
    assert ("p0", "p1", ReviewKind.PEER) in pairs and ("p0", "p0", ReviewKind.SELF) in pairs
    assert len(pairs) == 8
    assert len(h.of(aev.ReviewAssigned)) == 8 and len(h.of(aev.AssessmentOpened)) == 1
    tasks = await h.service.my_reviews("p0")
    assert {t.reviewee_name for t in tasks} == {"Person 0", "Person 1"}


async def test_opening_twice_for_the_same_round_and_rubric_is_refused() -> None:
    h = Harness()
    h.add_people(2)
    h.add_match("p0", "p1")
    await h.service.open_assessment("prog", deadline=h.deadline)
    with pytest.raises(InvalidTransition, match="already open"):
        await h.service.open_assessment("prog", deadline=h.deadline)


async def test_open_rejects_bad_settings_and_unknown_things() -> None:
    h = Harness()
    with pytest.raises(NotFound):
        await h.service.open_assessment("nope", deadline=h.deadline)
    with pytest.raises(InvalidInput, match="late_policy"):
        await h.service.open_assessment("prog", deadline=h.deadline, late_policy="whenever")
    with pytest.raises(InvalidInputs):
        await h.service.open_assessment("prog", deadline=h.clock.now() - timedelta(days=1))
    with pytest.raises(InvalidInput, match="unknown rubric"):
        await h.service.open_assessment("prog", deadline=h.deadline, rubric_id="secret")


async def test_a_round_without_matches_has_nothing_to_assess() -> None:
    h = Harness()
    h.add_people(3)
    with pytest.raises(InvalidTransition, match="the round has no matches"):
        await h.service.open_assessment("prog", deadline=h.deadline)
    h2 = Harness()
    with pytest.raises(InvalidTransition, match="no active participants"):
        await h2.service.open_assessment("prog", deadline=h2.deadline, mode="peers")
    assert h.uow.store.assessments == {} and h.events == []


async def test_a_program_rubric_from_yaml_is_used() -> None:
    h = Harness(rubric="tiny")
    h.service = AssessmentService(h.uow, h.bus, h.clock, rubrics={"tiny": parse_rubric(
        "id: tiny\nname: Tiny\ncriteria:\n"
        "  - {id: ok, name: OK, levels: [{value: 0, label: Not yet}, {value: 1, label: Done}]}")})
    h.add_people(2)
    h.add_match("p0", "p1")
    opened = await h.service.open_assessment("prog", deadline=h.deadline)
    assert opened.assessment.rubric.id == "tiny"
    review = opened.reviews[0]
    done = await h.service.submit_review(review.id, review.reviewer_id, {"ok": "1"})
    assert done.ratings == {"ok": 1}


async def test_submit_edit_and_withdraw_emit_statements_to_record_and_void() -> None:
    h = Harness()
    h.add_people(2)
    h.add_match("p0", "p1")
    opened = await h.service.open_assessment("prog", deadline=h.deadline)
    review = next(r for r in opened.reviews if r.reviewer_id == "p0")
    first = await h.service.submit_review(review.id, "p0", LEVELS, {"goal-setting": "clear goals"}, "thanks")
    edited = await h.service.submit_review(review.id, "p0", {**LEVELS, "goal-setting": 3})
    withdrawn = await h.service.withdraw_review(review.id, "p0")
    submitted = h.of(aev.ReviewSubmitted)
    assert [e.key for e in submitted] == [first.statement_key, edited.statement_key]
    assert submitted[0].replaces_key == "" and submitted[1].replaces_key == first.statement_key
    assert submitted[0].score_raw == 12 and (submitted[0].score_min, submitted[0].score_max) == (4, 16)
    assert {(r.criterion_id, r.level) for r in submitted[1].ratings} >= {("goal-setting", 3)}
    (voided,) = h.of(aev.ReviewWithdrawn)
    assert voided.voided_key == edited.statement_key and not voided.by_admin
    assert withdrawn.status is ReviewStatus.WITHDRAWN
    assert h.uow.store.reviews[review.id].status is ReviewStatus.WITHDRAWN


async def test_bad_submission_is_answered_per_field_and_nothing_is_stored() -> None:
    h = Harness()
    h.add_people(2)
    h.add_match("p0", "p1")
    opened = await h.service.open_assessment("prog", deadline=h.deadline)
    review = next(r for r in opened.reviews if r.reviewer_id == "p0")
    with pytest.raises(InvalidInputs) as err:
        await h.service.submit_review(review.id, "p0", {"active-listening": 9}, comment="x" * 2001)
    assert {p.field for p in err.value.problems} == {
        "ratings.active-listening", "ratings.powerful-questions", "ratings.goal-setting", "ratings.giving-feedback",
        "comment"}
    assert h.uow.store.reviews[review.id].status is ReviewStatus.PENDING
    assert not h.of(aev.ReviewSubmitted)


async def test_someone_else_cannot_submit_or_withdraw_my_review() -> None:
    h = Harness()
    h.add_people(2)
    h.add_match("p0", "p1")
    opened = await h.service.open_assessment("prog", deadline=h.deadline)
    review = next(r for r in opened.reviews if r.reviewer_id == "p0")
    with pytest.raises(NotAllowed):
        await h.service.submit_review(review.id, "p1", LEVELS)
    with pytest.raises(NotAllowed):
        await h.service.withdraw_review(review.id, "p1")
    with pytest.raises(NotFound):
        await h.service.submit_review("missing", "p0", LEVELS)


async def test_deadline_is_reported_before_field_problems() -> None:
    h = Harness()
    h.add_people(2)
    h.add_match("p0", "p1")
    opened = await h.service.open_assessment("prog", deadline=h.deadline)
    review = next(r for r in opened.reviews if r.reviewer_id == "p0")
    h.clock.advance(days=8)
    with pytest.raises(InvalidTransition, match="deadline"):
        await h.service.submit_review(review.id, "p0", {})


async def test_reminders_are_recorded_once_per_moment() -> None:
    h = Harness()
    h.add_people(2)
    h.add_match("p0", "p1")
    opened = await h.service.open_assessment("prog", deadline=h.deadline, reminder_hours=(48, 24))
    done = next(r for r in opened.reviews if r.reviewer_id == "p1")
    await h.service.submit_review(done.id, "p1", LEVELS)
    assert await h.service.send_reminders() == []
    h.clock.advance(days=5, hours=1)  # 47 h before the deadline
    first = await h.service.send_reminders()
    assert [(e.reviewer_id, e.reminder_number) for e in first] == [("p0", 1)]
    assert await h.service.send_reminders() == []
    h.clock.advance(hours=24)
    assert [e.reminder_number for e in await h.service.send_reminders()] == [2]


async def peer_assessment(h: Harness, **options: Any) -> str:
    h.add_people(8)
    opened = await h.service.open_assessment("prog", deadline=h.deadline, mode="peers", reviewers_per_person=3,
                                             **options)
    return opened.assessment.id


async def test_release_applies_the_k_threshold_and_thanks_reviewers() -> None:
    h = Harness()
    assessment_id = await peer_assessment(h)
    missing = next(r for r in h.uow.store.reviews.values() if r.reviewee_id == "p5")
    await submit_all(h, assessment_id, skip=frozenset({missing.id}))
    with pytest.raises(InvalidTransition, match="has not passed"):
        await h.service.release_results(assessment_id)
    h.clock.advance(days=7, seconds=1)
    summary = await h.service.release_results(assessment_id)
    assert summary.withheld == ["p5"] and len(summary.released) == 7
    assert summary.assessment.status is AssessmentStatus.RELEASED
    (withheld,) = h.of(aev.FeedbackWithheld)
    assert (withheld.reviewee_id, withheld.n_reviews, withheld.needed) == ("p5", 2, 3)
    released = {e.reviewee_id: e for e in h.of(aev.FeedbackReleased)}
    assert released["p0"].n_reviews == 3 and released["p0"].score_max == 16
    thanks = {e.reviewer_id: e for e in h.of(aev.ReviewerThanked)}
    assert thanks[missing.reviewer_id].reviews_in_assessment == 2
    assert await h.service.recognition(missing.reviewer_id, "prog") == 2
    view = await h.service.feedback_view(assessment_id, "p5")
    assert not view.released and "at least 3" in view.message and view.comments == ()


async def test_the_assessed_person_never_sees_who_reviewed_them() -> None:
    h = Harness()
    assessment_id = await peer_assessment(h)
    await submit_all(h, assessment_id)
    h.clock.advance(days=8)
    await h.service.release_results(assessment_id)
    about_p0 = [r for r in h.uow.store.reviews.values() if r.reviewee_id == "p0"]
    reviewers = {r.reviewer_id for r in about_p0}
    view = await h.service.feedback_view(assessment_id, "p0")
    assert view.released and len(view.comments) == 3
    dumped = json.dumps(asdict(view), default=str)
    for reviewer in reviewers:
        person = h.uow.store.participants[reviewer]
        assert f'"{reviewer}"' not in dumped and person.email not in dumped and person.display_name not in dumped
    assert not any(r.id in dumped for r in about_p0)
    assert all(c.author == "" for c in view.comments)
    # What goes out when results are released carries no reviewer of that person either.
    for event in h.of(aev.FeedbackReleased) + h.of(aev.FeedbackWithheld):
        theirs = {r.reviewer_id for r in h.uow.store.reviews.values() if r.reviewee_id == event.reviewee_id}
        values = {str(v) for v in asdict(event).values()} | set(event.key.split("/"))
        assert not values & theirs
    (mine,) = await h.service.my_feedback("p0")
    assert mine == view


async def test_named_partner_feedback_is_released_with_names() -> None:
    h = Harness(named_feedback=True)
    h.add_people(2)
    h.add_match("p0", "p1")
    opened = await h.service.open_assessment("prog", deadline=h.deadline)
    assert opened.assessment.named_feedback and opened.assessment.threshold == 1
    await submit_all(h, opened.assessment.id)
    h.clock.advance(days=8)
    summary = await h.service.release_results(opened.assessment.id)
    assert sorted(summary.released) == ["p0", "p1"]
    view = await h.service.feedback_view(opened.assessment.id, "p0")
    assert view.named and [c.author for c in view.comments] == ["Person 1"]


async def test_admin_view_uses_pseudonyms_unless_names_are_allowed() -> None:
    h = Harness()
    assessment_id = await peer_assessment(h)
    await submit_all(h, assessment_id)
    view = await h.service.admin_view(assessment_id)
    assert view.submitted == 24 and view.pending == 0
    assert {row.reviewer for row in view.reviews} == {""}  # no label that would link a reviewer's rows
    assert {row.reviewee for row in view.people} == {f"Person {i}" for i in range(8)}
    assert all(row.releasable for row in view.people)
    flagged = {f.kind for f in view.flags}
    assert "uniform_levels" not in flagged  # LEVELS differ across criteria

    h2 = Harness()
    assessment_id = await peer_assessment(h2, admin_sees_names=True)
    view = await h2.service.admin_view(assessment_id)
    assert {row.reviewer for row in view.reviews} == {f"Person {i}" for i in range(8)}


async def test_admin_overrides_are_audited() -> None:
    h = Harness()
    assessment_id = await peer_assessment(h)
    review = next(iter(h.uow.store.reviews.values()))
    await h.service.submit_review(review.id, review.reviewer_id, LEVELS)
    with pytest.raises(InvalidInput, match="reason"):
        await h.service.admin_override(assessment_id, "admin@example.com", OverrideAction.EXCLUDE_REVIEW, "",
                                       review_id=review.id)
    with pytest.raises(InvalidInput, match="action"):
        await h.service.admin_override(assessment_id, "admin@example.com", "delete_everything", "because")
    entry = await h.service.admin_override(assessment_id, "admin@example.com", OverrideAction.EXCLUDE_REVIEW,
                                           "copy-paste review", review_id=review.id)
    assert entry.target == review.id and entry.details == {"previous_status": "submitted"}
    (voided,) = h.of(aev.ReviewWithdrawn)
    assert voided.by_admin and voided.voided_key == f"assessment-review/{review.id}/v1"
    await h.service.admin_override(assessment_id, "admin@example.com", OverrideAction.REINSTATE_REVIEW, "mistake",
                                   review_id=review.id)
    assert h.uow.store.reviews[review.id].status is ReviewStatus.SUBMITTED
    assert h.of(aev.ReviewSubmitted)[-1].key == f"assessment-review/{review.id}/v2"
    new_deadline = h.deadline + timedelta(days=3)
    await h.service.admin_override(assessment_id, "admin@example.com", OverrideAction.EXTEND_DEADLINE,
                                   "holidays", deadline=new_deadline)
    assert h.uow.store.assessments[assessment_id].deadline == new_deadline
    late = next(r for r in h.uow.store.reviews.values() if r.status is ReviewStatus.PENDING)
    h.clock.current = new_deadline + timedelta(hours=1)
    with pytest.raises(InvalidTransition):
        await h.service.submit_review(late.id, late.reviewer_id, LEVELS)
    await h.service.admin_override(assessment_id, "admin@example.com", OverrideAction.ALLOW_LATE, "was ill",
                                   review_id=late.id, until=h.clock.now() + timedelta(days=1))
    assert (await h.service.submit_review(late.id, late.reviewer_id, LEVELS)).late
    audit = (await h.service.admin_view(assessment_id)).audit
    assert [e.action for e in audit] == ["exclude_review", "reinstate_review", "extend_deadline", "allow_late"]
    assert all(e.actor == "admin@example.com" and e.reason for e in audit)
    assert len(h.of(aev.AssessmentOverridden)) == 4


async def test_admin_can_release_early_and_it_is_audited() -> None:
    h = Harness()
    assessment_id = await peer_assessment(h)
    await submit_all(h, assessment_id)
    entry = await h.service.admin_override(assessment_id, "admin", OverrideAction.RELEASE_EARLY, "end of term")
    assert entry.action == "release_early"
    assert h.uow.store.assessments[assessment_id].status is AssessmentStatus.RELEASED
    assert len(h.of(aev.FeedbackReleased)) == 8
    with pytest.raises(InvalidTransition):
        await h.service.admin_override(assessment_id, "admin", OverrideAction.EXCLUDE_REVIEW, "late change",
                                       review_id=next(iter(h.uow.store.reviews)))


async def test_release_due_honours_grace_and_leaves_accept_policy_to_admins() -> None:
    h = Harness()
    graced = await peer_assessment(h, late_policy=LatePolicy.GRACE, grace_hours=12)
    h.uow.store.rounds["round-2"] = Round("round-2", "prog", 2, h.clock.now(), seed=2)
    accepting = (await h.service.open_assessment("prog", round_id="round-2", deadline=h.deadline, mode="peers",
                                                 late_policy="accept")).assessment.id
    h.clock.current = h.deadline + timedelta(hours=6)
    assert await h.service.release_due() == []
    h.clock.current = h.deadline + timedelta(hours=13)
    summaries = await h.service.release_due()
    assert [s.assessment.id for s in summaries] == [graced]
    assert h.uow.store.assessments[accepting].status is AssessmentStatus.OPEN
