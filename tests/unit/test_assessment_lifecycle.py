"""Assessment lifecycle: deadlines, edits, late policies, withdrawal, reminders, audit entries."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from teams_app.adapters.rubric_files import builtin_rubric
from teams_app.domain.assessment import (
    AllocationMode,
    Assessment,
    AssessmentStatus,
    Assignment,
    AuditEntry,
    LatePolicy,
    Review,
    ReviewKind,
    ReviewStatus,
    ReviewSubmission,
    reminders_due,
)
from teams_app.domain.errors import InvalidInput, InvalidInputs, InvalidTransition

OPENED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DEADLINE = OPENED + timedelta(days=7)
GOOD = ReviewSubmission({"active-listening": 3, "powerful-questions": 3, "goal-setting": 2, "giving-feedback": 4})


def assessment(**changes: object) -> Assessment:
    base = Assessment("a1", "prog", "r1", builtin_rubric("coaching-skills"), AllocationMode.PARTNERS, OPENED,
                      DEADLINE, seed=1)
    return replace(base, **changes).validated()  # type: ignore[arg-type]


def review() -> Review:
    return Review.for_assignment("a1", Assignment("alice", "bob"))


def test_review_ids_are_stable_per_assignment_and_kind() -> None:
    assert review().id == review().id
    assert Review.for_assignment("a1", Assignment("bob", "bob", ReviewKind.SELF)).id != \
        Review.for_assignment("a1", Assignment("bob", "bob")).id


def test_submit_then_edit_before_the_deadline_bumps_the_version() -> None:
    first = review().submit(assessment(), GOOD, OPENED + timedelta(days=1))
    assert (first.status, first.version, first.late) == (ReviewStatus.SUBMITTED, 1, False)
    edited = first.submit(assessment(), replace(GOOD, comment="better"), DEADLINE)
    assert (edited.version, edited.comment) == (2, "better")
    assert edited.statement_key != first.statement_key


def test_edit_after_the_deadline_is_refused() -> None:
    first = review().submit(assessment(), GOOD, OPENED)
    with pytest.raises(InvalidTransition, match="can no longer be edited"):
        first.submit(assessment(late_policy=LatePolicy.ACCEPT), GOOD, DEADLINE + timedelta(seconds=1))


def test_late_first_submission_is_refused_under_the_reject_policy() -> None:
    with pytest.raises(InvalidTransition, match="late reviews are not accepted"):
        review().submit(assessment(), GOOD, DEADLINE + timedelta(minutes=1))


def test_grace_policy_accepts_late_within_the_grace_and_marks_it_late() -> None:
    graced = assessment(late_policy=LatePolicy.GRACE, grace_hours=24)
    late = review().submit(graced, GOOD, DEADLINE + timedelta(hours=23))
    assert late.late
    with pytest.raises(InvalidTransition):
        review().submit(graced, GOOD, DEADLINE + timedelta(hours=25))
    assert graced.closes_at == DEADLINE + timedelta(hours=24)


def test_accept_policy_takes_late_reviews_until_release() -> None:
    accepting = assessment(late_policy=LatePolicy.ACCEPT)
    assert review().submit(accepting, GOOD, DEADLINE + timedelta(days=30)).late
    released = accepting.release(DEADLINE + timedelta(days=31))
    with pytest.raises(InvalidTransition, match="already released"):
        review().submit(released, GOOD, DEADLINE + timedelta(days=32))


def test_an_admin_allowance_lets_one_late_review_in() -> None:
    allowed = replace(review(), allow_late_until=DEADLINE + timedelta(days=2))
    assert allowed.submit(assessment(), GOOD, DEADLINE + timedelta(days=1)).late
    with pytest.raises(InvalidTransition):
        allowed.submit(assessment(), GOOD, DEADLINE + timedelta(days=3))


def test_withdraw_only_a_submitted_review_and_only_before_release() -> None:
    with pytest.raises(InvalidTransition, match="only a submitted"):
        review().withdraw(assessment())
    submitted = review().submit(assessment(), GOOD, OPENED)
    withdrawn = submitted.withdraw(assessment())
    assert withdrawn.status is ReviewStatus.WITHDRAWN and not withdrawn.counted
    with pytest.raises(InvalidTransition):
        submitted.withdraw(assessment().release(DEADLINE))
    again = withdrawn.submit(assessment(), GOOD, OPENED + timedelta(hours=1))
    assert again.version == 2 and again.counted


def test_excluded_review_cannot_be_changed_and_reinstates_to_its_old_state() -> None:
    submitted = review().submit(assessment(), GOOD, OPENED)
    excluded = submitted.exclude("all the same level")
    with pytest.raises(InvalidTransition, match="set this review aside"):
        excluded.submit(assessment(), GOOD, OPENED)
    assert excluded.reinstate().status is ReviewStatus.SUBMITTED
    assert review().exclude("x").reinstate().status is ReviewStatus.PENDING
    with pytest.raises(InvalidTransition):
        submitted.reinstate()


def test_release_waits_for_the_deadline_unless_early() -> None:
    with pytest.raises(InvalidTransition, match="has not passed"):
        assessment().release(OPENED + timedelta(days=1))
    early = assessment().release(OPENED + timedelta(days=1), early=True)
    assert early.status is AssessmentStatus.RELEASED and early.released_at == OPENED + timedelta(days=1)
    with pytest.raises(InvalidTransition):
        early.release(DEADLINE)


def test_extend_deadline_must_move_into_the_future() -> None:
    moved = assessment().extend_deadline(DEADLINE + timedelta(days=2), OPENED + timedelta(days=1))
    assert moved.deadline == DEADLINE + timedelta(days=2)
    with pytest.raises(InvalidInput):
        assessment().extend_deadline(OPENED, OPENED + timedelta(days=1))


def test_reminders_come_once_per_moment_and_only_for_pending_reviews() -> None:
    a = assessment(reminder_hours=(48, 24))
    pending, done = review(), review().submit(a, GOOD, OPENED)
    assert reminders_due(a, [pending, done], DEADLINE - timedelta(hours=49)) == []
    due = reminders_due(a, [pending, done], DEADLINE - timedelta(hours=47))
    assert due == [(pending, 1)]
    reminded = replace(pending, reminders_sent=1)
    assert reminders_due(a, [reminded], DEADLINE - timedelta(hours=30)) == []
    assert reminders_due(a, [reminded], DEADLINE - timedelta(hours=1)) == [(reminded, 2)]
    assert reminders_due(a, [pending], DEADLINE + timedelta(minutes=1)) == []  # too late to remind


def test_a_scheduler_that_was_down_sends_one_reminder_not_several() -> None:
    a = assessment(reminder_hours=(48, 24))
    assert reminders_due(a, [review()], DEADLINE - timedelta(hours=2)) == [(review(), 2)]


def test_reminder_moments_before_opening_are_skipped() -> None:
    a = assessment(deadline=OPENED + timedelta(hours=30), reminder_hours=(48, 24))
    assert a.reminder_times() == [OPENED + timedelta(hours=6)]


def test_assessment_settings_are_validated_together() -> None:
    with pytest.raises(InvalidInputs) as err:
        assessment(deadline=OPENED - timedelta(hours=1), min_reviews=0, reviewers_per_person=20,
                   reminder_hours=(0,), grace_hours=-1)
    assert {p.field for p in err.value.problems} == {"deadline", "min_reviews", "reviewers_per_person",
                                                     "reminder_hours", "grace_hours"}
    with pytest.raises(InvalidInputs) as err:
        assessment(mode=AllocationMode.PEERS, named_feedback=True)
    assert err.value.problems[0].field == "named_feedback"


def test_named_feedback_lowers_the_threshold_to_one() -> None:
    assert assessment(min_reviews=3).threshold == 3
    assert assessment(named_feedback=True).threshold == 1


def test_audit_entries_need_an_actor_and_a_reason() -> None:
    entry = AuditEntry.create("a1", "admin@example.com", "extend_deadline", " sick leave ", OPENED)
    assert entry.reason == "sick leave" and entry.id
    with pytest.raises(InvalidInput, match="reason"):
        AuditEntry.create("a1", "admin@example.com", "extend_deadline", "  ", OPENED)
    with pytest.raises(InvalidInput, match="actor"):
        AuditEntry.create("a1", "", "extend_deadline", "why", OPENED)
    with pytest.raises(InvalidInput):
        AuditEntry.create("a1", "admin", "extend_deadline", "x" * 501, OPENED)
