"""Teams, when a card cannot be shown: the card's web twin link, through the real sender and local connector.

A card carries its web link as ``fallbackText`` (what a Teams client that cannot render it shows); a card that
Teams refuses as too large (413 MessageSizeTooBig) arrives as a message with that link instead of being lost.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from teams_app.adapters.bot.delivery.sender import MAX_TEAMS_MESSAGE_BYTES, with_twin_link
from teams_app.adapters.db.bot_tables import bot_notifications
from teams_app.domain.notifications import NotificationKind
from teams_app.i18n import translator
from tests.bot.conftest import BotHarness, make_user, start_harness, teams_activity
from tests.bot.test_conversation import card_of, join
from tests.bot.test_one_outbox import round_of_two
from tests.bot.twin_support import KEY

TWIN = {"signing_key": KEY, "public_base_url": "https://coach.example", "ttl_hours": 48}


@pytest.fixture
async def twin_harness(tmp_path: Path) -> AsyncIterator[BotHarness]:
    h = await start_harness(tmp_path, bot={"dev_mode": True, "admins": ["aad-0001"], "per_conversation_rps": 50,
                                           "per_tenant_rps": 500}, web_twin=TWIN)
    try:
        yield h
    finally:
        await h.client.close()
        await h.connector.close()


async def test_an_intro_card_carries_its_web_link_for_clients_that_cannot_show_it(twin_harness: BotHarness) -> None:
    first, _second, _match_id = await round_of_two(twin_harness, 80)
    intro = card_of(twin_harness.replies(first)[-1])
    assert intro["fallbackText"].startswith("This card cannot be shown here. Open it in your browser: "
                                            "https://coach.example/twin/")


async def test_a_card_teams_refuses_as_too_large_arrives_as_its_web_link(twin_harness: BotHarness) -> None:
    await twin_harness.app.service.create_program("Pairs", "peer_pairs", "weekly")
    first, second = make_user(82), make_user(83)
    for user in (first, second):
        await join(twin_harness, user)
    twin_harness.connector.scripted[first.conversation_id].append((413, {}))  # the intro is refused as too big
    await twin_harness.post(teams_activity(make_user(1), twin_harness.connector.url, text="round run Pairs"))
    await twin_harness.sender.drain(timeout_s=20)

    last = twin_harness.replies(first)[-1]
    assert "attachments" not in last or not last["attachments"]
    assert "too large to show in Teams" in last["text"] and "https://coach.example/twin/" in last["text"]
    async with twin_harness.app.engine.connect() as conn:
        statuses = set((await conn.execute(sa.select(bot_notifications.c.status).where(
            bot_notifications.c.kind == NotificationKind.INTRO.value))).scalars())
    assert statuses == {"sent"}
    assert "attachments" in twin_harness.replies(second)[-1]  # the partner's card was not too large


def test_a_card_over_the_teams_size_limit_is_sent_as_its_link_and_a_small_one_keeps_its_card() -> None:
    _ = translator("de")
    small = {"type": "message", "summary": "Neue Runde",
             "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                              "content": {"type": "AdaptiveCard", "body": []}}]}
    kept = with_twin_link(_, small, "https://coach.example/twin/abc")
    assert kept["attachments"][0]["content"]["fallbackText"].endswith("https://coach.example/twin/abc")
    big = {**small, "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": {
        "type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": "x" * (MAX_TEAMS_MESSAGE_BYTES // 2)}]}}]}
    sent = with_twin_link(_, big, "https://coach.example/twin/abc")
    assert "attachments" not in sent and sent["text"].startswith("Neue Runde")
    assert "https://coach.example/twin/abc" in sent["text"] and len(json.dumps(sent)) < 1000
    assert with_twin_link(_, big, None) is big  # no web twin: the card goes as it is
