"""Anonymity in the admin view and the records: no label links a reviewer's rows, self-assessments apart,
flags named by review id, results from fewer than k reviews shown to admins only."""

from __future__ import annotations

import json
from dataclasses import asdict

from teams_app.domain.assessment import events as aev
from teams_app.service.assessment import AdminView
from tests.unit.test_assessment_service import Harness


def dump(view: AdminView) -> str:
    return json.dumps(asdict(view), default=str)


async def open_pairs_with_self(h: Harness) -> str:
    h.add_people(8)
    for i in range(0, 8, 2):
        h.add_match(f"p{i}", f"p{i + 1}")
    opened = await h.service.open_assessment("prog", deadline=h.deadline, mode="peers", reviewers_per_person=3,
                                             self_assessment=True)
    return opened.assessment.id


async def test_self_assessments_are_listed_apart_and_share_no_label_with_peer_rows() -> None:
    h = Harness()
    assessment_id = await open_pairs_with_self(h)
    for review in list(h.uow.store.reviews.values()):
        await h.service.submit_review(review.id, review.reviewer_id, {c: 1 for c in (
            "active-listening", "powerful-questions", "goal-setting", "giving-feedback")})
    view = await h.service.admin_view(assessment_id)
    assert {r.kind for r in view.reviews} == {"peer"} and len(view.reviews) == 24
    assert [s.person for s in view.self_assessments] == sorted(f"Person {i}" for i in range(8))
    assert (view.submitted, view.pending, view.self_submitted, view.self_pending) == (24, 0, 8, 0)
    assert {r.reviewer for r in view.reviews} == {""}
    text = dump(view)
    assert "Reviewer " not in text and " self" not in text
    # Everyone gave level 1 everywhere: the uniform flags name reviews, not a pseudonym of a person.
    uniform = [f for f in view.flags if f.kind == "uniform_levels"]
    assert len(uniform) == 8 and all(f.reviewer == "" and len(f.review_ids) == 3 for f in uniform)
    peer_ids = {r.review_id for r in view.reviews}
    assert all(set(f.review_ids) <= peer_ids for f in uniform)
    self_ids = {s.review_id for s in view.self_assessments}
    assert not any(set(f.review_ids) & self_ids for f in view.flags)


async def test_row_order_does_not_follow_the_reviewer() -> None:
    h = Harness()
    assessment_id = await open_pairs_with_self(h)
    view = await h.service.admin_view(assessment_id)
    rows = [(r.reviewee, r.review_id) for r in view.reviews]
    assert rows == sorted(rows)  # by reviewee, then the (random) review id


async def test_admins_who_may_see_names_see_them_on_rows_and_flags() -> None:
    h = Harness()
    h.add_people(8)
    opened = await h.service.open_assessment("prog", deadline=h.deadline, mode="peers", reviewers_per_person=3,
                                             admin_sees_names=True)
    for review in list(h.uow.store.reviews.values()):
        await h.service.submit_review(review.id, review.reviewer_id, {c: 2 for c in (
            "active-listening", "powerful-questions", "goal-setting", "giving-feedback")})
    view = await h.service.admin_view(opened.assessment.id)
    assert {r.reviewer for r in view.reviews} == {f"Person {i}" for i in range(8)}
    assert {f.reviewer for f in view.flags if f.kind == "uniform_levels"} == {f"Person {i}" for i in range(8)}


async def test_results_below_k_reach_only_the_admin_view() -> None:
    h = Harness()
    h.add_people(8)
    opened = await h.service.open_assessment("prog", deadline=h.deadline, mode="peers", reviewers_per_person=3)
    # p5 gets a single review: below k=3.
    for review in list(h.uow.store.reviews.values()):
        if review.reviewee_id != "p5" or review.reviewer_id == min(
                r.reviewer_id for r in h.uow.store.reviews.values() if r.reviewee_id == "p5"):
            await h.service.submit_review(review.id, review.reviewer_id, {
                "active-listening": 3, "powerful-questions": 2, "goal-setting": 4, "giving-feedback": 1},
                comment="a comment")
    h.clock.advance(days=8)
    await h.service.release_results(opened.assessment.id)
    view = await h.service.feedback_view(opened.assessment.id, "p5")
    assert not view.released and view.criteria == () and view.comments == () and view.score is None
    assert [e.reviewee_id for e in h.of(aev.FeedbackReleased) if e.reviewee_id == "p5"] == []
    (withheld,) = [e for e in h.of(aev.FeedbackWithheld) if e.reviewee_id == "p5"]
    assert not hasattr(withheld, "score_raw") and not hasattr(withheld, "ratings")
    admin = await h.service.admin_view(opened.assessment.id)
    (row,) = [p for p in admin.people if p.reviewee == "Person 5"]
    assert row.n_reviews == 1 and not row.releasable and row.criteria["active-listening"]["mean"] == 3
