"""``my reviews`` / ``my feedback`` (and German) through the real /api/messages, in Teams and by email; help
lists them; after release the review card is read-only."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from teams_app.adapters.bot.commands import parse
from tests.bot.conftest import BotHarness, make_user, teams_activity
from tests.bot.test_conversation import card_of, join, texts


def test_the_commands_and_their_german_aliases_parse() -> None:
    assert parse("my reviews").name == "my reviews" and parse("Meine Bewertungen").name == "my reviews"
    assert parse("my feedback").name == "my feedback" and parse("mein Feedback!").name == "my feedback"


async def pair(h: BotHarness) -> tuple[Any, Any]:
    await h.app.service.create_program("Pairs", "peer_pairs", "weekly")
    first, second = make_user(40), make_user(41)
    for user in (first, second):
        await join(h, user)
    await h.post(teams_activity(make_user(1), h.connector.url, text="round run Pairs"))
    await h.sender.drain(timeout_s=20)
    return first, second


async def say(h: BotHarness, user: Any, text: str, **kw: Any) -> list[dict[str, Any]]:
    before = len(h.replies(user))
    assert (await h.post(teams_activity(user, h.connector.url, text=text, **kw)))[0] == 200
    return h.replies(user)[before:]


async def test_my_reviews_and_my_feedback_in_teams_and_german(harness: BotHarness) -> None:
    first, _second = await pair(harness)
    help_text = texts(await say(harness, first, "help"))
    assert "**my reviews**" in help_text and "**my feedback**" in help_text
    assert "You have no reviews to write right now." in texts(await say(harness, first, "my reviews"))
    opened = await harness.app.assessment.open_assessment("Pairs", deadline=harness.clock.now() + timedelta(days=3))
    await harness.sender.drain(timeout_s=20)
    replies = await say(harness, first, "my reviews")
    assert "You have 1 review to write." in texts(replies)
    (card,) = [card_of(r) for r in replies if r.get("attachments")]
    assert "Peer review of Person 41" in json.dumps(card)
    german = await say(harness, first, "meine bewertungen", locale="de-DE")
    assert "Du hast 1 Einschätzung zu schreiben." in texts(german)
    assert "No feedback has been released" in texts(await say(harness, first, "my feedback"))
    for review in opened.reviews:
        await harness.app.assessment.submit_review(review.id, review.reviewer_id, {
            "active-listening": 3, "powerful-questions": 2, "goal-setting": 4, "giving-feedback": 3},
            comment="Clear questions")
    harness.clock.advance(timedelta(days=4))
    await harness.app.assessment.release_results(opened.assessment.id)
    feedback = await say(harness, first, "my feedback")
    card_json = json.dumps([card_of(r) for r in feedback if r.get("attachments")])
    assert "Based on 1 peer review" in card_json and "Clear questions" in card_json
    assert "Dein Peer-Feedback" in json.dumps(await say(harness, first, "mein feedback", locale="de-DE"))
    assert "You have no reviews to write right now." in texts(await say(harness, first, "my reviews"))


async def test_my_reviews_by_email_is_text_with_what_is_due(harness: BotHarness) -> None:
    first, _second = await pair(harness)
    await harness.app.assessment.open_assessment("Pairs", deadline=harness.clock.now() + timedelta(days=3))
    await harness.sender.drain(timeout_s=20)
    before = len(harness.replies(first))
    email = teams_activity(first, harness.connector.url, text="my reviews")
    email["channelId"] = "email"
    email["from"] = {"id": first.email, "name": first.name}
    email["conversation"] = {"id": first.conversation_id}
    assert (await harness.post(email))[0] == 200
    replies = harness.replies(first)[before:]
    assert replies, "no email reply"
    (reply,) = replies
    assert "Person 41: not yet submitted, due" in reply["text"]
    assert reply["channelData"]["subject"] == "Your peer reviews"
    assert "<p>" in reply["channelData"]["htmlBody"]


async def test_admins_see_the_assessment_commands_before_the_admin_section(harness: BotHarness) -> None:
    help_text = texts(await say(harness, make_user(1), "help"))
    assert help_text.index("**my reviews**") < help_text.index("Admin commands:")
