"""Text defects of the assessment cards: plurals, withheld/released sentences from the catalog (German too),
self-assessment wording, read-only cards after release, "can't judge" for peers from other teams."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from teams_app.adapters.bot import assessment_cards as cards
from teams_app.adapters.rubric_files import builtin_rubric
from teams_app.domain.assessment import (
    CANT_JUDGE,
    AllocationMode,
    Assessment,
    AssessmentStatus,
    Assignment,
    Review,
    ReviewKind,
    ReviewStatus,
    WithheldReason,
    aggregate,
    build_feedback,
)
from teams_app.domain.errors import InvalidInputs
from teams_app.i18n import translator

OPENED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RUBRIC = builtin_rubric("coaching-skills")
ALL_3 = {c.id: 3 for c in RUBRIC.criteria}


def assessment(**changes: object) -> Assessment:
    base = Assessment("a1", "prog", "r1", RUBRIC, AllocationMode.PARTNERS, OPENED, OPENED + timedelta(days=7),
                      seed=1)
    return replace(base, **changes).validated()  # type: ignore[arg-type]


def review(reviewer: str, reviewee: str, kind: ReviewKind = ReviewKind.PEER, **changes: object) -> Review:
    return replace(Review.for_assignment("a1", Assignment(reviewer, reviewee, kind)), **changes)  # type: ignore[arg-type]


def texts(card: dict[str, object]) -> str:
    return json.dumps(card, ensure_ascii=False)


def withheld_view(n: int, **changes: object) -> cards.FeedbackView:
    released = assessment(status=AssessmentStatus.RELEASED, released_at=OPENED + timedelta(days=8), **changes)
    reviews = [review(f"r{i}", "bob", status=ReviewStatus.SUBMITTED, ratings=ALL_3, version=1) for i in range(n)]
    result = aggregate(RUBRIC, reviews).results.get("bob")
    return build_feedback(released, result, reviews)


def test_withheld_text_is_a_full_sentence_with_the_right_plural() -> None:
    one = cards.withheld_text(withheld_view(1), translator("en"))
    assert one == ("Your feedback stays anonymous, so it is shared only once at least 3 reviews have arrived. "
                   "1 review arrived this time.")
    two = cards.withheld_text(withheld_view(2), translator("en"))
    assert two.endswith("2 reviews arrived this time.") and two[0].isupper()


def test_withheld_text_is_german_for_german_readers() -> None:
    view = withheld_view(1)
    text = cards.withheld_text(view, translator("de"))
    assert text.startswith("Dein Feedback bleibt anonym.") and "Diesmal ist 1 Einschätzung eingegangen." in text
    subject, html, plain = cards.feedback_email(view, _=translator("de"))
    assert plain == text and "<h2>" in html and subject == "Dein Peer-Feedback: Coaching skills"
    assert cards.withheld_text(withheld_view(0, named_feedback=True), translator("de")) == \
        "Für dich wurde diesmal kein Feedback abgegeben."
    pending = build_feedback(assessment(), None, [])
    assert pending.why is WithheldReason.NOT_YET
    assert cards.withheld_text(pending, translator("de")) == "Dein Feedback wird nach der Frist geteilt."


def test_released_feedback_counts_reviews_in_the_right_plural() -> None:
    released = assessment(status=AssessmentStatus.RELEASED, released_at=OPENED, named_feedback=True)
    reviews = [review("ann", "bob", status=ReviewStatus.SUBMITTED, ratings=ALL_3, version=1)]
    view = build_feedback(released, aggregate(RUBRIC, reviews).results["bob"], reviews)
    text = texts(cards.feedback_card(view, _=translator("en")))
    assert "Based on 1 peer review, adjusted for how lenient or strict the reviewer is." in text
    assert "1 peer reviews" not in text
    assert "Beruht auf 1 Peer-Einschätzung," in texts(cards.feedback_card(view, _=translator("de")))


def test_thanks_card_says_one_review_not_one_reviews() -> None:
    text = texts(cards.thanks_card("Coaching", 1, 1))
    assert "You wrote 1 review this round. 1 review in Coaching so far." in text and "1 reviews" not in text


def test_self_assessment_card_asks_about_you_not_your_peer() -> None:
    card = cards.rubric_card(assessment(), review("ann", "ann", ReviewKind.SELF), "Ann")
    text = texts(card)
    assert "How well did you coach your peers" in text and "How well your peer" not in text
    peer = texts(cards.rubric_card(assessment(), review("ann", "bob"), "Bob"))
    assert "How well your peer coached you" in peer


def test_after_release_the_review_card_is_read_only_and_says_so_once() -> None:
    released = assessment(status=AssessmentStatus.RELEASED, released_at=OPENED + timedelta(days=8))
    submitted = review("ann", "bob", status=ReviewStatus.SUBMITTED, ratings=ALL_3, version=1, comment="Clear")
    card = cards.rubric_card(released, submitted, "Bob")
    text = texts(card)
    assert "can no longer be changed" in text and "You can change your answers until then" not in text
    assert "actions" not in card and not any(e.get("type", "").startswith("Input.")
                                             for e in card["body"] if isinstance(e, dict))
    assert "Active listening: 3 · Proficient" in text and "Clear" in text


def test_peers_from_other_teams_can_answer_cant_judge_and_it_is_not_counted() -> None:
    peers = assessment(mode=AllocationMode.PEERS, min_reviews=2)
    card = cards.rubric_card(peers, review("ann", "bob"), "Bob")
    choices = [c["value"] for e in card["body"] if e.get("type") == "Input.ChoiceSet" for c in e["choices"]]
    assert choices.count(CANT_JUDGE) == len(RUBRIC.criteria)
    partner_card = cards.rubric_card(assessment(), review("ann", "bob"), "Bob")
    assert CANT_JUDGE not in texts(partner_card)
    data = {"assessment_id": "a1", "review_id": "r", **{f"ratings.{c.id}": "3" for c in RUBRIC.criteria},
            "ratings.goal-setting": CANT_JUDGE}
    parsed = cards.parse_submission(data, RUBRIC, allow_cant_judge=True)
    assert "goal-setting" not in parsed.submission.ratings and len(parsed.submission.ratings) == 3
    with pytest.raises(InvalidInputs):  # partners met the person: no "can't judge"
        cards.parse_submission(data, RUBRIC)
    with pytest.raises(InvalidInputs):  # at least one criterion must be rated
        cards.parse_submission({**data, **{f"ratings.{c.id}": CANT_JUDGE for c in RUBRIC.criteria}}, RUBRIC,
                               allow_cant_judge=True)
    # Aggregation: goal-setting has one rating of 1 (one reviewer could judge); it is below k=2: not shown.
    reviews = [review("ann", "bob", status=ReviewStatus.SUBMITTED, version=1,
                      ratings={**parsed.submission.ratings}),
               review("cy", "bob", status=ReviewStatus.SUBMITTED, version=1, ratings={**ALL_3, "goal-setting": 1})]
    result = aggregate(RUBRIC, reviews).results["bob"]
    assert result.criterion("goal-setting").n == 1 and result.criterion("active-listening").n == 2
    view = build_feedback(replace(peers, status=AssessmentStatus.RELEASED, released_at=OPENED), result, reviews)
    assert view.released and "goal-setting" not in {c.criterion_id for c in view.criteria}
    assert len(view.criteria) == 3


def test_a_single_review_reports_the_prior_uncertainty_not_false_precision() -> None:
    one = aggregate(RUBRIC, [review("ann", "bob", status=ReviewStatus.SUBMITTED, ratings=ALL_3, version=1)])
    single = one.results["bob"].criterion("active-listening")
    assert single.uncertainty is not None and single.uncertainty >= 0.75  # a quarter of a 1-4 scale: 0.75 level
    two = aggregate(RUBRIC, [review(r, "bob", status=ReviewStatus.SUBMITTED, ratings=ALL_3, version=1)
                             for r in ("ann", "cy")])
    pair = two.results["bob"].criterion("active-listening")
    assert pair.uncertainty is not None and 0.5 <= pair.uncertainty < single.uncertainty
