"""End to end against a real LRS (ralph, file backend): delivery, read-back, outage, SIGKILL, refusals."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncEngine

from lrs_bridge.client import LrsClient
from lrs_bridge.outbox import enqueue, outbox_table, status
from lrs_bridge.records import Attended, MeetingRef, Record
from lrs_bridge.relay import Relay
from lrs_bridge.statements import SerializedStatement, StatementBuilder
from tests.fixtures.ralph_lrs import RalphLrs
from tests.lrs_bridge.conftest import ALICE, PROGRAM, ROUND, sample_records
from tests.lrs_bridge.lrs_proxy import LrsProxy
from tests.lrs_bridge.test_relay import invalid_statement

REPO = Path(__file__).parents[2]
BUILDER = StatementBuilder(activity_base_iri="https://coach.example.org/xapi")


def attended_records(n: int, registration: uuid.UUID) -> list[Record]:
    ts = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
    return [Attended(event_key=f"{registration}:{i}", timestamp=ts, actor=ALICE, program=PROGRAM, round=ROUND,
                     registration=registration, meeting=MeetingRef(f"m{i}")) for i in range(n)]


@pytest.fixture
async def ralph_client(ralph_lrs: RalphLrs) -> AsyncIterator[LrsClient]:
    ralph_lrs.start()  # no-op when running; restarts it if an earlier test left it stopped
    async with LrsClient(ralph_lrs.endpoint, username=ralph_lrs.username, password=ralph_lrs.password,
                         timeout_s=10) as client:
        yield client


async def queue(engine: AsyncEngine, items: list[SerializedStatement]) -> None:
    async with engine.begin() as conn:
        await enqueue(conn, items)


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 30.0) -> None:
    for _ in range(int(timeout_s / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not met within {timeout_s}s")


async def delivered_at_least(engine: AsyncEngine, n: int) -> bool:
    return (await status(engine)).delivered >= n


async def queue_empty(engine: AsyncEngine) -> bool:
    return (await status(engine)).queued == 0


async def outbox_row(engine: AsyncEngine, statement_id: uuid.UUID) -> Row[Any]:
    async with engine.connect() as conn:
        query = select(outbox_table).where(outbox_table.c.statement_id == str(statement_id))
        return (await conn.execute(query)).one()


def copies_in_lrs(ralph_lrs: RalphLrs, ids: set[str]) -> Counter[str]:
    """How often each id is in the LRS's own storage file (not what GET de-duplicates for us)."""
    counts: Counter[str] = Counter()
    for line in ralph_lrs.statements_file.read_text().splitlines():
        sid = json.loads(line)["id"]
        if sid in ids:
            counts[sid] += 1
    return counts


async def test_every_statement_kind_lands_in_ralph_and_reads_back_equal(
        sqlite_engine: AsyncEngine, ralph_client: LrsClient) -> None:
    # ralph 5.1 requires object.id (it refuses the Agent/Group objects xAPI allows): agent_objects=False.
    for mode in ("mbox", "mbox_sha1sum", "account"):
        builder = StatementBuilder(activity_base_iri="https://coach.example.org/xapi",
                                   actor_identification=mode, agent_objects=False,
                                   account_homepage="https://login.microsoftonline.com/t1")
        items = [builder.build_serialized(r) for r in sample_records()]
        await queue(sqlite_engine, items)
        report = await Relay(sqlite_engine, ralph_client, batch_size=100).run_once()
        assert (report.delivered, report.dead) == (len(items), 0), report.errors
        for item in items:
            got = await ralph_client.get_statement(item.id)
            assert got is not None, f"{item.id} missing"
            sent = json.loads(item.payload)
            assert {k: v for k, v in got.items() if k not in ("stored", "authority")} == sent


async def test_reading_back_by_registration_pages_through_more(sqlite_engine: AsyncEngine,
                                                               ralph_client: LrsClient) -> None:
    reg = uuid.uuid4()
    items = [BUILDER.build_serialized(r) for r in attended_records(25, reg)]
    await queue(sqlite_engine, items)
    await Relay(sqlite_engine, ralph_client, batch_size=10).run_once()
    got = [s["id"] async for s in ralph_client.get_statements(registration=reg, limit=10)]
    assert sorted(got) == sorted(str(i.id) for i in items)


async def test_lrs_outage_during_delivery_then_restart_delivers_everything_once(
        sqlite_engine: AsyncEngine, ralph_lrs: RalphLrs, ralph_client: LrsClient) -> None:
    reg = uuid.uuid4()
    items = [BUILDER.build_serialized(r) for r in attended_records(300, reg)]
    await queue(sqlite_engine, items)
    relay = Relay(sqlite_engine, ralph_client, batch_size=20, poll_interval_s=0.05, backoff_base_s=0.05,
                  backoff_max_s=0.3)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run_forever(stop))
    try:
        await eventually(lambda: delivered_at_least(sqlite_engine, 40))
        await asyncio.to_thread(ralph_lrs.stop)  # the LRS goes away mid-delivery
        stalled = (await status(sqlite_engine)).delivered
        await asyncio.sleep(0.5)
        assert (await status(sqlite_engine)).delivered == stalled
        assert stalled < len(items)
        await asyncio.to_thread(ralph_lrs.start)
        await eventually(lambda: queue_empty(sqlite_engine))
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=15)
    st = await status(sqlite_engine)
    assert (st.queued, st.delivered, st.dead) == (0, 300, 0)
    ids = {str(i.id) for i in items}
    assert copies_in_lrs(ralph_lrs, ids) == Counter({i: 1 for i in ids})
    async with sqlite_engine.connect() as conn:
        attempts = (await conn.execute(select(outbox_table.c.attempts))).scalars().all()
    assert max(attempts) >= 1  # some batch really met the outage and was retried


async def test_relay_killed_between_post_and_commit_leaves_exactly_one_copy(
        tmp_path: Path, ralph_lrs: RalphLrs, ralph_client: LrsClient) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    from lrs_bridge.outbox import create_tables

    db_url = f"sqlite+aiosqlite:///{tmp_path / 'killed.db'}"
    engine = create_async_engine(db_url)
    await create_tables(engine)
    reg = uuid.uuid4()
    items = [BUILDER.build_serialized(r) for r in attended_records(120, reg)]
    await queue(engine, items)
    proxy = LrsProxy(upstream=f"http://127.0.0.1:{ralph_lrs.port}", hold=True)
    await proxy.start()
    env = {**os.environ, "PEERCOACH_DB__URL": db_url, "PEERCOACH_LRS__ENDPOINT": proxy.endpoint,
           "PEERCOACH_LRS__USERNAME": ralph_lrs.username, "PEERCOACH_LRS__PASSWORD": ralph_lrs.password,
           "PEERCOACH_LRS__BATCH_SIZE": "50", "PEERCOACH_BOT__DEV_MODE": "true"}
    relay_proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "teams_app.entrypoints.cli_lrs", "relay", "--poll-interval", "0.1",
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await asyncio.wait_for(proxy.forwarded.wait(), timeout=30)
        # ralph has stored the first batch and answered; the relay has not committed: kill it now.
        os.kill(relay_proc.pid, signal.SIGKILL)
        assert await asyncio.wait_for(relay_proc.wait(), timeout=10) == -signal.SIGKILL
    finally:
        if relay_proc.returncode is None:
            relay_proc.kill()
            await relay_proc.wait()
        await proxy.stop()
    assert proxy.answers == [200]
    first_batch = {str(i.id) for i in items[:50]}
    assert set(proxy.posted_ids) == first_batch
    st = await status(engine)
    assert (st.queued, st.delivered) == (120, 0)  # the kill lost the answer, not the statements
    assert copies_in_lrs(ralph_lrs, first_batch) == Counter({i: 1 for i in first_batch})

    # The relay restarts after its lease ran out (simulated: expire it) and resends identical bytes.
    from sqlalchemy import update

    async with engine.begin() as conn:
        await conn.execute(update(outbox_table).values(claimed_until=None))
    report = await Relay(engine, ralph_client, batch_size=50).run_once()
    assert (report.delivered, report.dead) == (120, 0)
    ids = {str(i.id) for i in items}
    assert copies_in_lrs(ralph_lrs, ids) == Counter({i: 1 for i in ids})
    await engine.dispose()


async def test_batch_with_one_invalid_statement_delivers_the_others_and_dead_letters_it(
        sqlite_engine: AsyncEngine, ralph_lrs: RalphLrs, ralph_client: LrsClient) -> None:
    reg = uuid.uuid4()
    good = [BUILDER.build_serialized(r) for r in attended_records(10, reg)]
    bad = invalid_statement()
    await queue(sqlite_engine, [*good[:6], bad, *good[6:]])
    report = await Relay(sqlite_engine, ralph_client, batch_size=100).run_once()
    assert (report.delivered, report.dead) == (10, 1)
    ids = {str(i.id) for i in good}
    assert copies_in_lrs(ralph_lrs, ids | {str(bad.id)}) == Counter({i: 1 for i in ids})
    row = await outbox_row(sqlite_engine, bad.id)
    assert row.status == "dead" and row.last_status == 422
    assert "valid email address" in row.last_error


async def test_same_id_with_different_content_is_dead_lettered_with_409(
        sqlite_engine: AsyncEngine, ralph_client: LrsClient) -> None:
    reg = uuid.uuid4()
    items = [BUILDER.build_serialized(r) for r in attended_records(3, reg)]
    other = json.loads(items[2].payload)
    other["verb"]["display"] = {"en": "was present at"}
    assert (await ralph_client.post_statements([json.dumps(other)])).ok  # someone else used the id first
    await queue(sqlite_engine, items)
    report = await Relay(sqlite_engine, ralph_client).run_once()
    assert (report.delivered, report.dead) == (2, 1)
    row = await outbox_row(sqlite_engine, items[2].id)
    assert (row.status, row.last_status) == ("dead", 409)
    assert "Differing statements already exist" in row.last_error
