"""The rubric card's Action.Execute round trip: submit, bad input back on the card, withdraw, refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest

from teams_app.adapters.bot.assessment_actions import handle_assessment_action
from teams_app.domain.assessment import ReviewStatus
from teams_app.domain.model import MAX_TEXT
from tests.unit.test_assessment_service import LEVELS, Harness


async def opened_pair() -> tuple[Harness, str]:
    h = Harness()
    h.add_people(2)
    h.add_match("p0", "p1")
    opened = await h.service.open_assessment("prog", deadline=h.deadline)
    return h, next(r.id for r in opened.reviews if r.reviewer_id == "p0")


def inputs(h: Harness, review_id: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"assessment_id": h.uow.store.reviews[review_id].assessment_id, "review_id": review_id}
    data.update({f"ratings.{k}": str(v) for k, v in LEVELS.items()})
    data.update(extra)
    return data


def ids(card: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "id" in node:
                out[node["id"]] = node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return out


async def test_submit_from_the_card_saves_and_confirms() -> None:
    h, review_id = await opened_pair()
    card = await handle_assessment_action(h.service, "assessment.submit", inputs(h, review_id, comment="thanks"), "p0")
    assert "your review is saved" in ids(card)["notice"]["text"]
    assert [a["verb"] for a in card["actions"]] == ["assessment.submit", "assessment.withdraw"]
    stored = h.uow.store.reviews[review_id]
    assert stored.status is ReviewStatus.SUBMITTED and stored.ratings == LEVELS and stored.comment == "thanks"


async def test_bad_input_comes_back_on_the_card_with_each_problem_under_its_input() -> None:
    h, review_id = await opened_pair()
    data = inputs(h, review_id, **{"ratings.goal-setting": "", "comments.active-listening": "y" * (MAX_TEXT + 5)})
    card = await handle_assessment_action(h.service, "assessment.submit", data, "p0")
    elements = ids(card)
    assert "choose a level" in elements["error.ratings.goal-setting"]["text"].lower()
    assert f"at most {MAX_TEXT}" in elements["error.comments.active-listening"]["text"].lower()
    assert elements["comments.active-listening"]["value"] == "y" * (MAX_TEXT + 5)
    assert h.uow.store.reviews[review_id].status is ReviewStatus.PENDING


async def test_after_the_deadline_the_card_says_why() -> None:
    h, review_id = await opened_pair()
    h.clock.advance(days=8)
    card = await handle_assessment_action(h.service, "assessment.submit", inputs(h, review_id), "p0")
    assert "deadline" in ids(card)["error.review"]["text"]


async def test_withdraw_from_the_card() -> None:
    h, review_id = await opened_pair()
    await handle_assessment_action(h.service, "assessment.submit", inputs(h, review_id), "p0")
    card = await handle_assessment_action(h.service, "assessment.withdraw", {"review_id": review_id}, "p0")
    assert "withdrawn" in ids(card)["notice"]["text"]
    assert h.uow.store.reviews[review_id].status is ReviewStatus.WITHDRAWN
    assert [a["verb"] for a in card["actions"]] == ["assessment.submit"]


async def test_someone_elses_or_a_stale_card_is_refused_politely() -> None:
    h, review_id = await opened_pair()
    other = await handle_assessment_action(h.service, "assessment.submit", inputs(h, review_id), "p1")
    assert "not available to you" in json.dumps(other)
    stale = await handle_assessment_action(h.service, "assessment.submit", {}, "p0")
    assert "out of date" in json.dumps(stale)
    wrong = await handle_assessment_action(h.service, "assessment.submit",
                                           {**inputs(h, review_id), "assessment_id": "another"}, "p0")
    assert "out of date" in json.dumps(wrong)
    missing = await handle_assessment_action(h.service, "assessment.submit",
                                             {"assessment_id": "x", "review_id": "no-such-review"}, "p0")
    assert "not available to you" in json.dumps(missing)
    with pytest.raises(ValueError, match="not an assessment verb"):
        await handle_assessment_action(h.service, "checkin.submit", {}, "p0")


async def test_withdrawing_keeps_the_answers_in_the_form() -> None:
    h, review_id = await opened_pair()
    await handle_assessment_action(h.service, "assessment.submit", inputs(h, review_id, comment="thanks"), "p0")
    card = await handle_assessment_action(h.service, "assessment.withdraw", {"review_id": review_id}, "p0")
    elements = ids(card)
    assert elements["ratings.goal-setting"]["value"] == str(LEVELS["goal-setting"])
    assert elements["comment"]["value"] == "thanks"


async def test_editing_after_release_answers_with_a_read_only_card() -> None:
    h, review_id = await opened_pair()
    await handle_assessment_action(h.service, "assessment.submit", inputs(h, review_id), "p0")
    h.clock.advance(days=8)
    await h.service.release_results(h.uow.store.reviews[review_id].assessment_id)
    card = await handle_assessment_action(h.service, "assessment.submit", inputs(h, review_id), "p0")
    text = json.dumps(card)
    assert "can no longer be changed" in text and "You can change your answers until then" not in text
    assert "actions" not in card and not any(k.startswith("ratings.") for k in ids(card))
