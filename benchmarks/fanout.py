"""Proactive fan-out and turn latency of the Teams bot, against a local Bot Connector.

1. Fan-out: N proactive messages (default 10,000) from the notification outbox through the bot's aiohttp
   Bot Connector transport to a local connector that enforces a Teams-like per-tenant limit (scaled: --rate
   per second instead of 50, so the run takes under a minute), injects 429s with Retry-After, and answers 403 for 1% of
   the people (they must get the message by email instead). Reports delivered, duplicates, lost, and elapsed
   time over the floor the limit allows.
2. Turn latency of ``POST /api/messages`` with 50 concurrent conversations sending 'progress' (database reads
   plus a reply through the connector), against a bare botbuilder echo bot measured in the same run.

Both connectors run in a child process (their own core, as the real Bot Connector is remote); the bots, the
database and the load generator share this process. The echo bot is bare botbuilder: CloudAdapter builds two
msrest clients per turn, which is most of its latency; peercoach replaces msrest with one shared aiohttp client
(``hosting/transport.py``), so its p99 includes real database work and still compares well.

Run: ``python benchmarks/fanout.py`` (options: --messages, --rate, --turns). The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from teams_app.adapters.bot.hosting import DirectConnectorTransport, authentication
from teams_app.adapters.bot.store import enqueue
from teams_app.adapters.db.bot_tables import bot_conversations
from teams_app.adapters.db.repositories import _participant_row
from teams_app.adapters.db.tables import participants
from teams_app.bootstrap import bootstrap
from teams_app.bootstrap.bot import bot_installer, build_sender
from teams_app.config import Settings
from teams_app.domain.model import Participant, Profile, stable_id
from teams_app.entrypoints.web import create_web_app
from teams_app.service.use_cases import ParticipantInput
from teams_app.simulation.connector import Limit, LocalConnector
from tests.bot.conftest import FakeMailer

TENANT = "11111111-2222-3333-4444-555555555555"
BOT = {"id": "28:peercoach-bot", "name": "peercoach"}


def _connector_main(pipe: Any, options: dict[str, Any]) -> None:
    """Runs in a child process: the connector gets its own core, as a remote Bot Connector would."""

    async def serve() -> None:
        connector = await LocalConnector().start()
        if options.get("rate"):
            connector.tenant_limit = Limit(options["rate"], max(1.0, options["rate"] / 10))
        connector.random_429 = options.get("inject_429", 0.0)
        connector.retry_after = "1"
        connector.forbidden = set(options.get("forbidden", ()))
        connector.roster.update(options.get("roster", {}))
        pipe.send(connector.url)
        await asyncio.Event().wait()

    asyncio.run(serve())


class RemoteConnector:
    def __init__(self, **options: Any) -> None:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self.process = context.Process(target=_connector_main, args=(child, options), daemon=True)
        self.process.start()
        self.url: str = parent.recv()

    async def stats(self) -> dict[str, Any]:
        async with aiohttp.ClientSession() as session, session.get(self.url + "_stats") as response:
            data: dict[str, Any] = await response.json()
            return data

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(5)


def settings_for(directory: Path, name: str) -> Settings:
    return Settings(db={"url": f"sqlite+aiosqlite:///{directory / name}"}, bot={"dev_mode": True},
                    scheduler={"enabled": False})


def reference(n: int, service_url: str) -> dict[str, Any]:
    return {"user": {"id": f"29:user-{n}", "aadObjectId": f"aad-{n}", "name": f"Person {n}"}, "bot": BOT,
            "conversation": {"id": f"a:conv-{n}", "conversationType": "personal", "tenantId": TENANT},
            "channelId": "msteams", "serviceUrl": service_url, "locale": "en-US"}


async def fanout(directory: Path, messages: int, rate: float, inject_429: float, forbid_every: int) -> dict[str, Any]:
    forbidden = {f"a:conv-{n}" for n in range(0, messages, forbid_every)}
    connector = RemoteConnector(rate=rate, inject_429=inject_429, forbidden=sorted(forbidden))
    settings = settings_for(directory, "fanout.db")
    app = bootstrap(settings)
    await app.migrate()
    now = app.clock.now()
    people = [Participant.create(f"person{n}@example.com", f"Person {n}", participant_id=stable_id("bench", n),
                                 aad_object_id=f"aad-{n}", tenant_id=TENANT, profile=Profile())
              for n in range(messages)]
    payload = {"match_id": "m", "program": "Pairs", "round": 1, "role": "peer", "reasons": ["shared goals"],
               "partners": [{"name": "Partner", "email": "partner@example.com", "role": "peer"}],
               "prompts": ["What would you like to improve?"], "meeting": None}
    async with app.engine.begin() as conn:
        await conn.execute(participants.insert(), [_participant_row(p) for p in people])
        await conn.execute(bot_conversations.insert(), [{
            "id": stable_id("conversation", "msteams", f"a:conv-{n}"), "channel_id": "msteams",
            "conversation_id": f"a:conv-{n}", "conversation_type": "personal", "tenant_id": TENANT,
            "aad_object_id": f"aad-{n}", "user_key": f"29:user-{n}", "team_id": "", "service_url": connector.url,
            "locale": "en-US", "reference": reference(n, connector.url), "updated_at": now} for n in range(messages)])
        await enqueue(conn, [(stable_id("bench-note", p.id), p.id, "intro", payload, "teams") for p in people], now)
    mailer = FakeMailer()
    transport = DirectConnectorTransport(authentication(settings.bot), "")
    sender = build_sender(app, transport, mailer, per_tenant_rps=rate, per_conversation_rps=1.0, concurrency=48,
                          batch_size=200, base_backoff_s=0.5, max_backoff_s=5.0, poll_interval_s=0.1)
    started = time.perf_counter()
    await sender.drain(timeout_s=600)
    elapsed = time.perf_counter() - started
    await transport.close()

    stats = await connector.stats()
    connector.stop()
    received: Counter[str] = Counter()
    for conversation_id, count in stats["sent"].items():
        received[conversation_id.removeprefix("a:conv-")] += count
    for mail in mailer.sent:
        received[mail["to"][0].removeprefix("person").split("@")[0]] += 1
    delivered = sum(1 for n in range(messages) if received[str(n)] >= 1)
    duplicates = sum(count - 1 for count in received.values() if count > 1)
    teams_messages = messages - len(forbidden)
    floor = max(1e-9, (teams_messages - max(1.0, rate / 10)) / rate)
    rejected = Counter({int(k): v for k, v in stats["rejected"].items()})
    await app.close()
    return {"messages": messages, "delivered": delivered, "duplicates": duplicates, "lost": messages - delivered,
            "by_email": len(mailer.sent), "http_429": rejected[429], "http_403": rejected[403],
            "elapsed_s": elapsed, "floor_s": floor, "time_over_floor": elapsed / floor, "rate": rate}


async def load(url: str, conversations: int, turns: int, make: Any) -> list[float]:
    latencies: list[float] = []
    async with aiohttp.ClientSession() as session:
        async def one(n: int, count: int, record: bool) -> None:
            for _ in range(count):
                started = time.perf_counter()
                async with session.post(url, json=make(n)) as response:
                    await response.read()
                    if response.status >= 300:
                        raise RuntimeError(f"turn failed with HTTP {response.status}")
                if record:
                    latencies.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(one(n, 2, False) for n in range(conversations)))  # warm-up
        await asyncio.gather(*(one(n, turns, True) for n in range(conversations)))
    return latencies


def activity(n: int, service_url: str, text: str) -> dict[str, Any]:
    return {"type": "message", "id": f"act-{n}-{time.perf_counter_ns()}", "serviceUrl": service_url,
            "channelId": "msteams", "from": {"id": f"29:user-{n}", "aadObjectId": f"aad-{n}", "name": f"Person {n}"},
            "conversation": {"id": f"a:conv-{n}", "conversationType": "personal", "tenantId": TENANT},
            "recipient": BOT, "text": text, "locale": "en-US", "channelData": {"tenant": {"id": TENANT}}}


async def peercoach_latency(directory: Path, conversations: int, turns: int) -> list[float]:
    connector = RemoteConnector(roster={f"29:user-{n}": {"id": f"29:user-{n}", "email": f"person{n}@example.com"}
                                        for n in range(conversations)})
    app = bootstrap(settings_for(directory, "latency.db"))
    program = await app.service.create_program("Pairs", "peer_pairs", "weekly") if await app.migrate() else None
    assert program is not None
    for n in range(conversations):
        await app.service.enroll(program.id, ParticipantInput(email=f"person{n}@example.com",
                                                              display_name=f"Person {n}", aad_object_id=f"aad-{n}",
                                                              tenant_id=TENANT), consent=True)
    web_app = create_web_app(app, installers=(bot_installer(mailer=FakeMailer()),), run_background=False,
                             migrate=False)
    server = TestServer(web_app, host="127.0.0.1")
    await server.start_server()
    try:
        return await load(str(server.make_url("/api/messages")), conversations, turns,
                          lambda n: activity(n, connector.url, "progress"))
    finally:
        await server.close()
        connector.stop()


async def echo_latency(conversations: int, turns: int) -> list[float]:
    """A bare botbuilder echo bot: CloudAdapter + ActivityHandler replying with the text."""
    from botbuilder.core import ActivityHandler, MessageFactory, TurnContext
    from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

    class Config:
        APP_ID = ""
        APP_PASSWORD = ""
        APP_TYPE = "MultiTenant"
        APP_TENANTID = ""

    class Echo(ActivityHandler):  # type: ignore[misc]
        async def on_message_activity(self, turn_context: TurnContext) -> None:
            await turn_context.send_activity(MessageFactory.text(f"Echo: {turn_context.activity.text}"))

    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(Config()))
    bot = Echo()

    async def messages(request: web.Request) -> web.StreamResponse:
        response = await adapter.process(request, bot)
        return response or web.Response(status=200)

    echo_app = web.Application()
    echo_app.router.add_post("/api/messages", messages)
    connector = RemoteConnector()
    server = TestServer(echo_app, host="127.0.0.1")
    await server.start_server()
    try:
        return await load(str(server.make_url("/api/messages")), conversations, turns,
                          lambda n: activity(n, connector.url, "progress"))
    finally:
        await server.close()
        connector.stop()


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=250.0, help="per-tenant limit of the local connector, per s")
    parser.add_argument("--inject-429", type=float, default=0.02, help="share of sends answered 429")
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--turns", type=int, default=10, help="turns per conversation in the latency test")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        fan = await fanout(directory, args.messages, args.rate, args.inject_429, forbid_every=100)
        echo = await echo_latency(args.conversations, args.turns)
        ours = await peercoach_latency(directory, args.conversations, args.turns)

    echo_p50, echo_p99 = percentile(echo, 0.5), percentile(echo, 0.99)
    p50, p99 = percentile(ours, 0.5), percentile(ours, 0.99)
    print(f"Fan-out: {fan['messages']:,} proactive messages, connector limit {fan['rate']:.0f}/s per tenant, "
          f"{fan['http_429']} x 429 (Retry-After 1 s), {fan['http_403']} x 403")
    print(f"{'delivered':<24}{fan['delivered']:>12,}   (by email after 403: {fan['by_email']})")
    print(f"{'duplicates':<24}{fan['duplicates']:>12}")
    print(f"{'lost':<24}{fan['lost']:>12}")
    print(f"{'elapsed s':<24}{fan['elapsed_s']:>12.2f}")
    print(f"{'floor s (limit allows)':<24}{fan['floor_s']:>12.2f}")
    print(f"{'time / floor':<24}{fan['time_over_floor']:>12.3f}   (target <= 1.15)")
    print()
    print(f"Turn latency, {args.conversations} concurrent conversations x {args.turns} turns ('progress')")
    print(f"{'':<24}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
    print(f"{'echo bot (botbuilder)':<24}{echo_p50:>10.1f}{echo_p99:>10.1f}{statistics.mean(echo):>10.1f}")
    print(f"{'peercoach':<24}{p50:>10.1f}{p99:>10.1f}{statistics.mean(ours):>10.1f}")
    print(f"{'ratio':<24}{p50 / echo_p50:>10.2f}{p99 / echo_p99:>10.2f}   (target p99 ratio <= 2)")
    result = {"delivered": fan["delivered"], "duplicates": fan["duplicates"], "lost": fan["lost"],
              "time_over_floor": round(fan["time_over_floor"], 3), "p50_ms": round(p50, 1), "p99_ms": round(p99, 1),
              "echo_p99_ms": round(echo_p99, 1), "p99_ratio": round(p99 / echo_p99, 2)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    asyncio.run(main())
