"""What web twin tests stand on: the real web app (bot and twins installed) on a real port, email-only people
in a pair, an open assessment, and the review request emails they received."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from teams_app.adapters.bot.delivery import OutboxSender
from teams_app.adapters.clock import RunningClock
from teams_app.bootstrap import Application, bootstrap
from teams_app.bootstrap.bot import BOT_KEY, bot_installer
from teams_app.config import Settings
from teams_app.devstack import free_port
from teams_app.domain.model import Participant, Profile
from teams_app.entrypoints.web import create_web_app
from teams_app.service.assessment import OpenedAssessment
from teams_app.service.ports import Mailer
from teams_app.service.use_cases import ParticipantInput

KEY = "test-signing-key-of-at-least-32-characters"
LINK = re.compile(r"https?://[0-9a-z.:]+/twin/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
PAGE_STATE = re.compile(r'data-action="([^"]+)" data-proof="([^"]+)"')
PAGE_CARD = re.compile(r'<script type="application/json" id="twin-card">(.*?)</script>', re.S)
RATINGS = {"ratings.active-listening": "3", "ratings.powerful-questions": "2", "ratings.goal-setting": "4",
           "ratings.giving-feedback": "3"}


@dataclass
class TwinApp:
    app: Application
    client: TestClient
    clock: RunningClock
    base_url: str

    @property
    def sender(self) -> OutboxSender:
        sender: OutboxSender = self.client.server.app[BOT_KEY]["sender"]
        return sender

    async def close(self) -> None:
        await self.client.close()


async def start_twin_app(tmp_path: Path, mailer: Mailer | None, *, web_twin: dict[str, Any] | None = None,
                         smtp: dict[str, Any] | None = None) -> TwinApp:
    """``mailer`` None: the application's own mailer from ``smtp`` settings (a real SMTP server)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    twin = {"signing_key": KEY, "public_base_url": base, "ttl_hours": 48, **(web_twin or {})}
    settings = Settings(db={"url": f"sqlite+aiosqlite:///{tmp_path / 'twin.db'}"}, scheduler={"enabled": False},
                        bot={"dev_mode": True, "per_conversation_rps": 50, "per_tenant_rps": 500}, web_twin=twin,
                        smtp=smtp or {})
    clock = RunningClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    app = bootstrap(settings, clock=clock)
    options = {"base_backoff_s": 0.05, "max_backoff_s": 0.5, "poll_interval_s": 0.2}
    web_app = create_web_app(app, installers=(bot_installer(mailer=mailer, sender_options=options),),
                             run_background=False)
    client = TestClient(TestServer(web_app, host="127.0.0.1", port=port))
    await client.start_server()
    return TwinApp(app, client, clock, base)


@dataclass
class EmailPair:
    ada: Participant  # English, Berlin
    ben: Participant  # German, Berlin
    opened: OpenedAssessment

    def review_of(self, reviewer: Participant) -> str:
        (review,) = [r for r in self.opened.reviews if r.reviewer_id == reviewer.id]
        return review.id


async def email_pair(t: TwinApp) -> EmailPair:
    """Two people Teams cannot reach (no conversation with the bot) in a pair, with an open peer review."""
    service = t.app.service
    program = await service.create_program("Pairs", "peer_pairs", "weekly")
    people = []
    for email, name, locale in (("ada@example.com", "Ada Lovelace", "en"), ("ben@example.com", "Ben Becker", "de")):
        people.append(await service.enroll(program.id, ParticipantInput(
            email=email, display_name=name, locale=locale, profile=Profile(time_zone="Europe/Berlin")),
            consent=True))
    await service.run_round("Pairs")
    opened = await t.app.assessment.open_assessment("Pairs", deadline=t.clock.now() + timedelta(days=3))
    await t.sender.drain(timeout_s=20)
    return EmailPair(people[0], people[1], opened)


def link_in(text: str) -> str:
    found = LINK.search(text)
    assert found is not None, f"no web twin link in {text[:400]!r}"
    return found.group(0)


def mail_to(sent: Sequence[dict[str, Any]], address: str, subject_part: str) -> dict[str, Any]:
    found = [m for m in sent if address in m["to"] and subject_part in m["subject"]]
    assert found, f"no mail to {address} about {subject_part!r}: {[(m['to'], m['subject']) for m in sent]}"
    return found[-1]


def page_state(html: str) -> tuple[str, str, dict[str, Any]]:
    """(action nonce, proof, card) embedded in a twin page."""
    state, card = PAGE_STATE.search(html), PAGE_CARD.search(html)
    assert state is not None and card is not None, html[:500]
    return state.group(1), state.group(2), json.loads(card.group(1))
