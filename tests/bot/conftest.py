"""Bot fixtures: the real aiohttp app with the bot installed, a local Bot Connector, Teams activity JSON."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from teams_app.adapters.bot.delivery import OutboxSender
from teams_app.adapters.clock import RunningClock
from teams_app.bootstrap import Application, bootstrap
from teams_app.bootstrap.bot import BOT_KEY, bot_installer
from teams_app.config import Settings
from teams_app.entrypoints.web import create_web_app
from teams_app.simulation.connector import LocalConnector

TENANT = "11111111-2222-3333-4444-555555555555"
BOT_ID = "28:peercoach-bot"


@dataclass
class FakeMailer:
    """Satisfies the Mailer port; records mail, can fail for chosen addresses."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)

    async def send(self, to: Sequence[str], subject: str, html: str, text: str,
                   attachments: Sequence[tuple[str, str, bytes]] = ()) -> None:
        if set(to) & self.failing:
            raise ConnectionError("SMTP server said 451")
        self.sent.append({"to": list(to), "subject": subject, "html": html, "text": text,
                          "attachments": list(attachments)})


_ids = itertools.count(1)


@dataclass
class User:
    teams_id: str
    aad: str
    name: str
    email: str

    @property
    def conversation_id(self) -> str:
        return f"a:personal-{self.aad}"


def make_user(n: int) -> User:
    return User(f"29:user-{n}", f"aad-{n:04d}", f"Person {n}", f"person{n}@example.com")


def teams_activity(user: User, service_url: str, *, type_: str = "message", text: str | None = None,
                   name: str | None = None, value: Any = None, tenant: str = TENANT,
                   conversation_type: str = "personal", conversation_id: str | None = None,
                   locale: str = "en-US", **extra: Any) -> dict[str, Any]:
    """An activity shaped like the ones Teams (and the Agents Playground) post."""
    activity: dict[str, Any] = {
        "type": type_, "id": f"act-{next(_ids)}", "timestamp": datetime.now(UTC).isoformat(),
        "serviceUrl": service_url, "channelId": "msteams",
        "from": {"id": user.teams_id, "name": user.name, "aadObjectId": user.aad},
        "conversation": {"conversationType": conversation_type, "tenantId": tenant,
                         "id": conversation_id or user.conversation_id},
        "recipient": {"id": BOT_ID, "name": "peercoach"},
        "channelData": {"tenant": {"id": tenant}}, "locale": locale,
    }
    if text is not None:
        activity["text"] = text
        activity["textFormat"] = "plain"
    if name is not None:
        activity["name"] = name
    if value is not None:
        activity["value"] = value
    activity.update(extra)
    return activity


def card_action(user: User, service_url: str, verb: str, data: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return teams_activity(user, service_url, type_="invoke", name="adaptiveCard/action",
                          value={"action": {"type": "Action.Execute", "verb": verb, "data": data}}, **kw)


@dataclass
class BotHarness:
    app: Application
    client: TestClient
    connector: LocalConnector
    mailer: FakeMailer
    clock: RunningClock

    @property
    def sender(self) -> OutboxSender:
        sender: OutboxSender = self.client.server.app[BOT_KEY]["sender"]
        return sender

    async def post(self, activity: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, Any]:
        response = await self.client.post("/api/messages", json=activity, headers=headers or {})
        body: Any = None
        if response.content_type == "application/json":
            body = await response.json()
        return response.status, body

    def enroll_roster(self, user: User) -> None:
        self.connector.roster[user.teams_id] = {"id": user.teams_id, "name": user.name, "aadObjectId": user.aad,
                                                "email": user.email, "userPrincipalName": user.email}

    def replies(self, user: User) -> list[dict[str, Any]]:
        return self.connector.messages_to(user.conversation_id)


async def start_harness(tmp_path: Path, *, bot: dict[str, Any], connector: LocalConnector | None = None,
                        credentials_factory: Any = None, sender_options: dict[str, Any] | None = None,
                        db_url: str | None = None, web_twin: dict[str, Any] | None = None) -> BotHarness:
    connector = connector or await LocalConnector().start()
    settings = Settings(db={"url": db_url or f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"}, bot=bot,
                        scheduler={"enabled": False}, web_twin=web_twin or {})
    clock = RunningClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    app = bootstrap(settings, clock=clock)
    mailer = FakeMailer()
    options = {"base_backoff_s": 0.05, "max_backoff_s": 0.5, "poll_interval_s": 0.2, **(sender_options or {})}
    web_app = create_web_app(app, installers=(bot_installer(mailer=mailer, credentials_factory=credentials_factory,
                                                            sender_options=options),), run_background=False)
    client = TestClient(TestServer(web_app, host="127.0.0.1"))
    await client.start_server()
    return BotHarness(app, client, connector, mailer, clock)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[BotHarness]:
    h = await start_harness(tmp_path, bot={"dev_mode": True, "admins": ["aad-0001"],
                                           "per_conversation_rps": 50, "per_tenant_rps": 500})
    try:
        yield h
    finally:
        await h.client.close()
        await h.connector.close()
