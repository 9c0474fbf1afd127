"""The production server: /readyz apart from /healthz, JSON logs, SIGTERM with a grace period, gunicorn, and
two serve processes on one PostgreSQL database delivering a fan-out exactly once while one is stopped."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestServer

from teams_app.adapters.bot.store import enqueue
from teams_app.adapters.db.bot_tables import bot_conversations, bot_notifications
from teams_app.adapters.db.migrate import upgrade
from teams_app.adapters.db.repositories import _participant_row
from teams_app.adapters.db.tables import participants
from teams_app.adapters.db.uow import make_engine
from teams_app.bootstrap import bootstrap
from teams_app.config import Settings
from teams_app.devstack import free_port
from teams_app.domain.model import Participant, Profile, stable_id
from teams_app.entrypoints.web import create_web_app
from teams_app.logging_json import JsonFormatter
from teams_app.simulation.connector import LocalConnector
from tests.deploy.processes import ROOT, server_env, start_serve, stop, terminate, wait_status
from tests.lrs_bridge.fake_lrs import FakeLrs

TENANT = "11111111-2222-3333-4444-555555555555"
BOT = {"id": "28:peercoach-bot", "name": "peercoach"}


# -- /readyz -----------------------------------------------------------------------------------------
async def ready(settings: Settings, *, migrate: bool) -> tuple[int, dict[str, Any]]:
    app = bootstrap(settings)
    server = TestServer(create_web_app(app, run_background=False, migrate=migrate), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http, http.get(server.make_url("/readyz")) as response:
            return response.status, await response.json()
    finally:
        await server.close()


def sqlite_settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(db={"url": f"sqlite+aiosqlite:///{tmp_path / 'ready.db'}"}, bot={"dev_mode": True},
                    scheduler={"enabled": False}, **overrides)


async def test_readyz_needs_current_migrations_and_healthz_does_not(tmp_path: Path) -> None:
    status, body = await ready(sqlite_settings(tmp_path), migrate=False)
    assert status == 503 and body["database"] == "ok"
    assert body["migrations"]["missing"] and "peercoach db upgrade" in body["migrations"]["hint"]
    status, body = await ready(sqlite_settings(tmp_path), migrate=True)
    assert status == 200, body
    assert body["migrations"] == "current"
    assert body["lrs"] == {"state": "not configured", "outbox_queued": 0, "outbox_limit": 10000}


@pytest.fixture
async def fake_lrs() -> AsyncIterator[str]:
    async def about(request: web.Request) -> web.Response:
        return web.json_response({"version": ["1.0.3"]})

    app = web.Application()
    app.router.add_get("/xAPI/about", about)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("/xAPI/"))
    await server.close()


async def queue_statements(url: str, count: int) -> None:
    from lrs_bridge.outbox import outbox_table

    engine = make_engine(url)
    await upgrade(engine)
    async with engine.begin() as conn:
        await conn.execute(outbox_table.insert(), [
            {"statement_id": f"00000000-0000-4000-8000-{n:012d}", "payload": "{}", "status": "queued",
             "attempts": 0, "next_attempt_at": datetime.now(UTC), "created_at": datetime.now(UTC)}
            for n in range(count)])
    await engine.dispose()


async def test_readyz_tolerates_an_lrs_outage_while_the_outbox_is_within_its_limit(tmp_path: Path,
                                                                                   fake_lrs: str) -> None:
    await queue_statements(f"sqlite+aiosqlite:///{tmp_path / 'ready.db'}", 3)
    down = {"endpoint": f"http://127.0.0.1:{free_port()}/xAPI/", "timeout_s": 1}
    status, body = await ready(sqlite_settings(tmp_path, lrs=down, server={"ready_outbox_limit": 5}), migrate=True)
    assert status == 200 and body["lrs"]["state"].startswith("unreachable") and body["lrs"]["outbox_queued"] == 3
    status, body = await ready(sqlite_settings(tmp_path, lrs=down, server={"ready_outbox_limit": 2}), migrate=True)
    assert status == 503 and body["status"] == "not ready" and body["lrs"]["outbox_queued"] == 3
    status, body = await ready(sqlite_settings(tmp_path, lrs={"endpoint": fake_lrs}, server={"ready_outbox_limit": 2}),
                               migrate=True)
    assert status == 200 and body["lrs"] == "ok"


async def test_readyz_reports_an_unreachable_database_without_details() -> None:
    url = f"postgresql+asyncpg://nobody:secret-password@127.0.0.1:{free_port()}/none"
    settings = Settings(db={"url": url}, bot={"dev_mode": True}, scheduler={"enabled": False},
                        server={"ready_timeout_s": 2})
    status, body = await ready(settings, migrate=False)
    assert status == 503 and body["database"].startswith("unreachable")
    assert "secret-password" not in json.dumps(body)


# -- JSON logs -------------------------------------------------------------------------------------
def test_json_formatter_writes_one_object_per_record_with_extras_and_exceptions() -> None:
    logger = logging.getLogger("peercoach.test")
    try:
        raise ValueError("boom")
    except ValueError:
        record = logger.makeRecord("peercoach.test", logging.ERROR, __file__, 1, "sent %s of %s", (3, 4),
                                   sys.exc_info(), extra={"tenant": "t1", "thing": object()})
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "sent 3 of 4" and entry["level"] == "ERROR" and entry["tenant"] == "t1"
    assert "ValueError: boom" in entry["exception"] and entry["thing"].startswith("<object")


# -- two processes, one database, SIGTERM during a fan-out ----------------------------------------------
def reference(n: int, service_url: str) -> dict[str, Any]:
    return {"user": {"id": f"29:user-{n}", "aadObjectId": f"aad-{n}", "name": f"Person {n}"}, "bot": BOT,
            "conversation": {"id": f"a:conv-{n}", "conversationType": "personal", "tenantId": TENANT},
            "channelId": "msteams", "serviceUrl": service_url, "locale": "en-US"}


async def seed_fanout(url: str, count: int, service_url: str) -> None:
    engine = make_engine(url)
    now = datetime.now(UTC)
    people = [Participant.create(f"person{n}@example.com", f"Person {n}", participant_id=stable_id("fan", n),
                                 aad_object_id=f"aad-{n}", tenant_id=TENANT, profile=Profile())
              for n in range(count)]
    payload = {"match_id": "m", "program": "Pairs", "round": 1, "role": "peer", "reasons": ["shared goals"],
               "partners": [{"name": "Partner", "email": "partner@example.com", "role": "peer"}],
               "prompts": ["What would you like to improve?"], "meeting": None}
    async with engine.begin() as conn:
        await conn.execute(participants.insert(), [_participant_row(p) for p in people])
        await conn.execute(bot_conversations.insert(), [{
            "id": stable_id("conversation", "msteams", f"a:conv-{n}"), "channel_id": "msteams",
            "conversation_id": f"a:conv-{n}", "conversation_type": "personal", "tenant_id": TENANT,
            "aad_object_id": f"aad-{n}", "user_key": f"29:user-{n}", "team_id": "", "service_url": service_url,
            "locale": "en-US", "reference": reference(n, service_url), "updated_at": now} for n in range(count)])
        await enqueue(conn, [(stable_id("fan-note", p.id), p.id, "intro", payload, "teams") for p in people], now)
    await engine.dispose()


async def statuses(url: str) -> Counter[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(sa.select(bot_notifications.c.status, sa.func.count())
                                      .group_by(bot_notifications.c.status))
            return Counter({status: int(n) for status, n in rows})
    finally:
        await engine.dispose()


@pytest.mark.postgres
@pytest.mark.slow
async def test_two_serve_processes_deliver_2000_notifications_once_while_one_is_stopped(
        postgres_url: str, tmp_path: Path) -> None:
    total = 2000
    connector = await LocalConnector().start()
    connector.delay_s = 0.005  # a remote connector's latency: the fan-out takes seconds, not milliseconds
    engine = make_engine(postgres_url)
    await upgrade(engine)
    await engine.dispose()
    env = server_env(postgres_url, PEERCOACH_BOT__PER_TENANT_RPS="300", PEERCOACH_BOT__PER_CONVERSATION_RPS="5",
                     PEERCOACH_SERVER__SHUTDOWN_GRACE_S="10", PEERCOACH_SERVER__LOG_FORMAT="json",
                     PEERCOACH_SERVER__MIGRATE_ON_START="false")
    ports = [free_port(), free_port()]
    servers = [start_serve(port, env, tmp_path) for port in ports]
    outputs: list[str] = []
    try:
        for port, server in zip(ports, servers, strict=True):
            await wait_status(f"http://127.0.0.1:{port}/readyz", process=server)
        await seed_fanout(postgres_url, total, connector.url)  # both senders find the rows on their next poll
        deadline = time.monotonic() + 60
        while len(connector.sent) < 400 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert 0 < len(connector.sent) < total, "SIGTERM should land in the middle of the fan-out"
        sent_at_stop = len(connector.sent)
        stopped_at = time.monotonic()
        code, took, output = await terminate(servers[0])
        outputs.append(output)
        assert code == 0, output
        assert took < 10 + 1, f"exited after {took:.1f} s, grace 10 s"
        while len(connector.sent) < total and time.monotonic() < stopped_at + 90:
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # anything sent twice would arrive now
        per_conversation = Counter(s.conversation_id for s in connector.sent)
        assert len(per_conversation) == total, f"{total - len(per_conversation)} never delivered"
        assert [c for c, n in per_conversation.items() if n > 1] == []
        # The stopped server gave its claimed rows back: the survivor delivered them long before the 2-minute lease.
        assert time.monotonic() - stopped_at < 60
        assert await statuses(postgres_url) == Counter({"sent": total})
        print(f"fan-out: SIGTERM after {sent_at_stop} of {total}; stopped server exited in {took:.2f} s; "
              f"all {total} delivered once {time.monotonic() - stopped_at:.1f} s after the SIGTERM")
        code, _, output = await terminate(servers[1])
        outputs.append(output)
        assert code == 0
    finally:
        for server in servers:
            outputs.append(stop(server))
        await connector.close()
    logs = "\n".join(outputs)
    assert "Traceback" not in logs, logs[-3000:]
    lines = [line for line in outputs[0].splitlines() if line.startswith("{")]
    entries = [json.loads(line) for line in lines]
    assert any("shutting down" in e["message"] for e in entries), outputs[0][-2000:]
    assert all(set(e) >= {"time", "level", "logger", "message"} for e in entries)


# -- SIGTERM during a turn, and the hard deadline ------------------------------------------------------
def message(service_url: str, text: str, n: int = 1) -> dict[str, Any]:
    return {"type": "message", "id": f"act-{n}-{time.monotonic_ns()}", "serviceUrl": service_url,
            "channelId": "msteams", "from": {"id": f"29:user-{n}", "aadObjectId": f"aad-{n}", "name": f"Person {n}"},
            "conversation": {"id": f"a:conv-{n}", "conversationType": "personal", "tenantId": TENANT},
            "recipient": BOT, "text": text, "locale": "en-US", "channelData": {"tenant": {"id": TENANT}}}


class SignallingConnector(LocalConnector):
    """Tells the test when the bot's reply has reached the connector (before the connector's delay)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = asyncio.Event()

    async def send(self, request: web.Request) -> web.Response:
        self.arrived.set()
        return await super().send(request)


@pytest.mark.slow
async def test_sigterm_lets_an_in_flight_turn_finish_within_the_grace_period(tmp_path: Path) -> None:
    connector = await SignallingConnector().start()
    connector.delay_s = 1.5  # the bot's reply is slow: the turn is still running when SIGTERM arrives
    port = free_port()
    server = start_serve(port, server_env(f"sqlite+aiosqlite:///{tmp_path / 'turn.db'}",
                                          PEERCOACH_SERVER__SHUTDOWN_GRACE_S="6"), tmp_path)
    try:
        await wait_status(f"http://127.0.0.1:{port}/healthz", process=server)
        async with aiohttp.ClientSession() as http:
            turn = asyncio.create_task(http.post(f"http://127.0.0.1:{port}/api/messages",
                                                 json=message(connector.url, "help")))
            await asyncio.wait_for(connector.arrived.wait(), timeout=30)
            stopping = asyncio.create_task(terminate(server))
            response = await turn
            assert response.status == 200
            code, took, output = await stopping
        assert code == 0, output
        assert took < 6 + 1
        assert [s.conversation_id for s in connector.sent] == ["a:conv-1"]  # the reply was not cut off
    finally:
        stop(server)
        await connector.close()


@pytest.mark.slow
async def test_gunicorn_entry_point_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    assert gunicorn, "gunicorn is in the dev and server extras"
    import subprocess

    port = free_port()
    env = server_env(f"sqlite+aiosqlite:///{tmp_path / 'g.db'}", PORT=str(port),
                     PEERCOACH_SERVER__SHUTDOWN_GRACE_S="5", PEERCOACH_SERVER__LOG_FORMAT="json")
    process = subprocess.Popen([gunicorn, "-c", "python:teams_app.entrypoints.gunicorn",
                                "teams_app.entrypoints.gunicorn:app"], env=env, cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        await wait_status(f"http://127.0.0.1:{port}/readyz", process=process)
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as response:
            assert response.status == 200
        code, took, output = await terminate(process)
        assert code == 0, output
        assert took < 5 + 2
        assert any(line.startswith("{") and "shutting down" in line for line in output.splitlines()), output
    finally:
        stop(process)


class SlowLrs(FakeLrs):
    """The fake LRS with a remote LRS's latency, so the relays are mid-delivery when one is stopped."""

    delay_s = 0.05

    async def _post(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.delay_s)
        return await super()._post(request)


def posted_ids(lrs: FakeLrs) -> Counter[str]:
    counts: Counter[str] = Counter()
    for body in lrs.posts:
        statements = json.loads(body)
        counts.update(s["id"] for s in (statements if isinstance(statements, list) else [statements]))
    return counts


async def queue_real_statements(url: str, count: int) -> set[str]:
    from lrs_bridge.outbox import enqueue as enqueue_statements
    from lrs_bridge.statements import SerializedStatement

    engine = make_engine(url)
    ids = {str(uuid.uuid5(uuid.NAMESPACE_URL, f"peercoach-test/{n}")) for n in range(count)}
    items = [SerializedStatement(id=uuid.UUID(sid), payload=json.dumps({
        "id": sid, "actor": {"mbox": f"mailto:p{n}@example.com", "objectType": "Agent"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/attended"},
        "object": {"id": f"https://peercoach.example/xapi/meeting/{n}"}})) for n, sid in enumerate(sorted(ids))]
    async with engine.begin() as conn:
        await enqueue_statements(conn, items)
    await engine.dispose()
    return ids


@pytest.mark.postgres
@pytest.mark.slow
async def test_two_serve_processes_relay_2000_statements_once_while_one_is_stopped(
        postgres_url: str, tmp_path: Path) -> None:
    total = 2000
    lrs = SlowLrs()
    await lrs.start()
    engine = make_engine(postgres_url)
    await upgrade(engine)
    await engine.dispose()
    env = server_env(postgres_url, PEERCOACH_LRS__ENDPOINT=lrs.endpoint, PEERCOACH_LRS__USERNAME=lrs.username,
                     PEERCOACH_LRS__PASSWORD=lrs.password, PEERCOACH_LRS__BATCH_SIZE="25",
                     PEERCOACH_SERVER__SHUTDOWN_GRACE_S="10", PEERCOACH_SERVER__MIGRATE_ON_START="false")
    ports = [free_port(), free_port()]
    servers = [start_serve(port, env, tmp_path) for port in ports]
    outputs: list[str] = []
    try:
        for port, server in zip(ports, servers, strict=True):
            await wait_status(f"http://127.0.0.1:{port}/readyz", process=server)
        ids = await queue_real_statements(postgres_url, total)
        deadline = time.monotonic() + 60
        while len(lrs.stored) < 400 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert 0 < len(lrs.stored) < total, "SIGTERM should land in the middle of the delivery"
        stopped_at = time.monotonic()
        code, took, output = await terminate(servers[0])
        outputs.append(output)
        assert code == 0 and took < 10 + 1, (code, took, output[-2000:])
        while len(lrs.stored) < total and time.monotonic() < stopped_at + 120:
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        assert set(lrs.stored) == ids
        posts = posted_ids(lrs)
        assert [sid for sid, n in posts.items() if n > 1] == [], "a statement was posted twice"
        print(f"relay: stopped server exited in {took:.2f} s; {total} statements stored once, "
              f"{len(lrs.posts)} POSTs, {time.monotonic() - stopped_at:.1f} s after the SIGTERM")
        code, _, output = await terminate(servers[1])
        outputs.append(output)
    finally:
        for server in servers:
            outputs.append(stop(server))
        await lrs.stop()
    assert "Traceback" not in "\n".join(outputs)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "example.org"])
def test_serve_in_dev_mode_refuses_a_listen_address_beyond_loopback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     host: str) -> None:
    from click.testing import CliRunner

    from teams_app.entrypoints.cli import main

    monkeypatch.setenv("PEERCOACH_BOT__DEV_MODE", "true")
    monkeypatch.delenv("PEERCOACH_BOT__APP_ID", raising=False)
    result = CliRunner().invoke(main, ["--db", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", "serve",
                                       "--host", host, "--port", str(free_port())])
    assert result.exit_code == 1
    assert "listens only on loopback" in result.output and "Traceback" not in result.output


def test_dev_mode_may_listen_on_loopback_and_production_anywhere() -> None:
    from teams_app.entrypoints.server import check_listen

    dev = Settings(bot={"dev_mode": True})
    for host in ("127.0.0.1", "::1", "localhost"):
        check_listen(dev, host)
    production = Settings(bot={"app_id": "app", "app_password": "s3cret", "app_tenant_id": "tenant"})
    check_listen(production, "0.0.0.0")
    with pytest.raises(SystemExit, match="loopback"):
        check_listen(dev, "0.0.0.0")


def test_a_server_process_freezes_its_start_up_objects_once_started() -> None:
    """serve and gunicorn call freeze_after_start_up: full collections then skip what start-up made (a test
    process must not freeze, so this runs in a child process)."""
    import subprocess

    script = """
import asyncio, gc
from aiohttp import web
from teams_app.entrypoints.server import freeze_after_start_up

async def main():
    app = web.Application()
    freeze_after_start_up(app)
    before = gc.get_freeze_count()
    runner = web.AppRunner(app)
    await runner.setup()
    print(before, gc.get_freeze_count())
    await runner.cleanup()

asyncio.run(main())
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          check=True)
    before, after = map(int, done.stdout.split())
    assert before == 0 and after > 10_000
