"""Adaptive Cards for assessment: the rubric card, parsing its submission with per-field errors, feedback, email."""

from __future__ import annotations

import inspect
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from teams_app.adapters.bot import assessment_cards as cards
from teams_app.adapters.rubric_files import builtin_rubric
from teams_app.domain.assessment import (
    AllocationMode,
    Assessment,
    AssessmentStatus,
    Assignment,
    Review,
    ReviewKind,
    ReviewSubmission,
    aggregate,
    build_feedback,
)
from teams_app.domain.errors import InvalidInputs
from teams_app.domain.model import GROW, MAX_TEXT

OPENED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RUBRIC = builtin_rubric("coaching-skills")
LEVELS = {"active-listening": 4, "powerful-questions": 2, "goal-setting": 3, "giving-feedback": 1}


def assessment(**changes: object) -> Assessment:
    base = Assessment("a1", "prog", "r1", RUBRIC, AllocationMode.PEERS, OPENED, OPENED + timedelta(days=7), seed=1)
    return replace(base, **changes).validated()  # type: ignore[arg-type]


def review(reviewer: str = "ann", reviewee: str = "bob", kind: ReviewKind = ReviewKind.PEER) -> Review:
    return Review.for_assignment("a1", Assignment(reviewer, reviewee, kind))


def walk(node: Any) -> list[dict[str, Any]]:
    """Every element of a card, depth first."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found.extend(walk(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(walk(value))
    return found


def by_id(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in walk(card) if "id" in e}


def card_data(r: Review, **inputs: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"assessment_id": "a1", "review_id": r.id}
    data.update({f"ratings.{k}": str(v) for k, v in LEVELS.items()})
    data.update(inputs)
    return data


def test_rubric_card_is_adaptive_card_1_5_with_an_execute_action_carrying_the_ids() -> None:
    r = review()
    card = cards.rubric_card(assessment(mode=AllocationMode.PARTNERS), r, "Bob")
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    (submit,) = card["actions"]
    assert submit["type"] == "Action.Execute" and submit["verb"] == "assessment.submit"
    assert submit["data"] == {"assessment_id": "a1", "review_id": r.id}
    inputs = by_id(card)
    for criterion in RUBRIC.criteria:
        choice = inputs[f"ratings.{criterion.id}"]
        assert choice["type"] == "Input.ChoiceSet" and choice["isRequired"]
        assert [c["value"] for c in choice["choices"]] == ["1", "2", "3", "4"]
        assert criterion.levels[2].descriptor in choice["choices"][2]["title"]
        assert inputs[f"comments.{criterion.id}"]["maxLength"] == MAX_TEXT
    assert inputs["comment"]["maxLength"] == MAX_TEXT
    text = json.dumps(card)
    assert "Your name is not shown to Bob" in text and "at least 3 reviews" in text
    assert "ann" not in text  # the reviewer's own id is not needed on the card


def test_submitted_review_card_is_prefilled_and_offers_withdrawal() -> None:
    r = review().submit(assessment(), ReviewSubmission(LEVELS, {"goal-setting": "clear"}, "thanks"), OPENED)
    card = cards.rubric_card(assessment(), r, "Bob")
    inputs = by_id(card)
    assert inputs["ratings.active-listening"]["value"] == "4"
    assert inputs["comments.goal-setting"]["value"] == "clear" and inputs["comment"]["value"] == "thanks"
    assert [a["verb"] for a in card["actions"]] == ["assessment.submit", "assessment.withdraw"]
    assert card["actions"][1]["associatedInputs"] == "none"


def test_the_deadline_is_said_in_the_readers_zone_and_language() -> None:
    from teams_app.i18n import translator

    card = cards.rubric_card(assessment(), review(), "Bob", time_zone="Europe/Berlin", _=translator("de"))
    due = by_id(card)["due"]["text"]
    assert "Montag, 9. März 2026" in due and "10:00" in due and "Mitteleuropäische Normalzeit" in due
    assert "UTC" not in due
    released = replace(assessment(), status=AssessmentStatus.RELEASED, released_at=OPENED + timedelta(days=8))
    closed = json.dumps(cards.rubric_card(released, review(), "Bob", time_zone="America/New_York"), ensure_ascii=False)
    assert "Tuesday, March 10, 2026" in closed and "Eastern" in closed and "UTC" not in closed


def test_self_assessment_and_named_cards_say_so() -> None:
    self_card = json.dumps(cards.rubric_card(assessment(), review("bob", "bob", ReviewKind.SELF), "Bob"))
    assert "Self-assessment" in self_card and "not shown" not in self_card
    named = assessment(mode=AllocationMode.PARTNERS, named_feedback=True)
    assert "will see your name" in json.dumps(cards.rubric_card(named, review(), "Bob"))


def test_parse_valid_submission() -> None:
    r = review()
    parsed = cards.parse_submission(card_data(r, **{"comments.goal-setting": " more like this ", "comment": "",
                                                    "msteams": {"x": 1}}), RUBRIC)
    assert (parsed.assessment_id, parsed.review_id) == ("a1", r.id)
    assert parsed.submission.ratings == LEVELS
    assert parsed.submission.comments == {"goal-setting": "more like this"}


def test_bad_card_submission_is_answered_under_each_input() -> None:
    r = review()
    data = card_data(r, **{"ratings.active-listening": "9", "ratings.giving-feedback": "",
                           "comment": "x" * (MAX_TEXT + 1)})
    del data["review_id"]
    with pytest.raises(InvalidInputs) as err:
        cards.parse_submission(data, RUBRIC)
    errors = cards.field_errors(err.value)
    assert set(errors) == {"review_id", "ratings.active-listening", "ratings.giving-feedback", "comment"}
    again = cards.rubric_card(assessment(), r, "Bob", errors=errors, values=data)
    elements = by_id(again)
    for field in errors:
        assert elements[f"error.{field}"]["color"] == "Attention"
    assert "choose one of 1, 2, 3, 4" in elements["error.ratings.active-listening"]["text"]
    assert elements["error.comment"]["text"] == f"At most {MAX_TEXT} characters (you wrote {MAX_TEXT + 1})"
    assert elements["comment"]["value"] == "x" * (MAX_TEXT + 1)  # nothing typed is lost
    assert elements["ratings.powerful-questions"]["value"] == "2"


def released_view(named: bool = False) -> Any:
    a = assessment(mode=AllocationMode.PARTNERS, named_feedback=True) if named else assessment()
    reviews = [review(name, "bob").submit(a, ReviewSubmission(LEVELS, {"giving-feedback": f"tip from {i}"},
                                                              "great session"), OPENED)
               for i, name in enumerate(("ann", "cid", "dee"))]
    reviews.append(review("bob", "bob", ReviewKind.SELF).submit(
        a, ReviewSubmission({**LEVELS, "giving-feedback": 4}), OPENED))
    return build_feedback(a.release(OPENED + timedelta(days=8)), aggregate(RUBRIC, reviews).results["bob"], reviews,
                          framework=GROW, reviewer_names={"ann": "Ann A", "cid": "Cid C", "dee": "Dee D"})


def test_feedback_card_shows_strengths_growth_self_view_and_next_steps_without_reviewers() -> None:
    card = cards.feedback_card(released_view())
    text = json.dumps(card, ensure_ascii=False)
    assert card["version"] == "1.5" and "actions" not in card
    assert "Strengths: Active listening" in text and "Giving feedback" in text
    assert "You rated yourself higher than your peers on Giving feedback." in text
    assert "great session" in text and GROW.stages[-1].prompts[0] in text
    for secret in ("ann", "cid", "dee", "Ann A", "Cid C", "Dee D"):
        assert secret not in text


def test_named_feedback_card_shows_the_author() -> None:
    text = json.dumps(cards.feedback_card(released_view(named=True)), ensure_ascii=False)
    assert "— Ann A" in text


def test_withheld_feedback_card_only_explains_why() -> None:
    view = build_feedback(assessment().release(OPENED + timedelta(days=8)), None, [])
    card = cards.feedback_card(view)
    assert len(card["body"]) == 2 and "at least 3" in card["body"][1]["text"]


def test_feedback_email_has_no_reviewers_and_escapes_html() -> None:
    view = released_view()
    view = replace(view, comments=(*view.comments, replace(view.comments[0], text="<script>x</script>")))
    subject, body, text = cards.feedback_email(view)
    assert subject == "Your peer feedback: Coaching skills"
    assert "&lt;script&gt;" in body and "<script>" not in body and "<script>x</script>" in text
    for secret in ("Ann A", "Cid C", "Dee D", "ann", "cid"):
        assert secret not in body and secret not in text


def test_thanks_card_counts_reviews() -> None:
    text = json.dumps(cards.thanks_card("Coaching", 3, 7))
    assert "You wrote 3 reviews this round. 7 reviews in Coaching so far." in text


def test_cards_module_never_imports_botbuilder() -> None:
    assert "botbuilder" not in inspect.getsource(cards).replace("No botbuilder here", "")
