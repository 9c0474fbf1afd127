"""SQLite's write lock: a writer waits for another process's transaction by polling every millisecond, in the
driver's thread (the event loop goes on), takes the lock as soon as it is free, gives up after its timeout
with "database is locked", and reads never wait for it. Another process is a plain ``sqlite3`` connection in
a thread, holding ``BEGIN IMMEDIATE`` as an import's batch does."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from lrs_bridge.outbox import enqueue
from lrs_bridge.sqlite_lock import BUSY_TIMEOUT_S, acquire_write_lock, is_busy
from lrs_bridge.statements import StatementBuilder
from teams_app.adapters.db import tables as t
from teams_app.adapters.db.bulk import insert_many
from teams_app.adapters.db.migrate import upgrade
from teams_app.adapters.db.repositories import SqlProgramRepository
from teams_app.adapters.db.uow import make_engine
from teams_app.domain.model import Program
from tests.lrs_bridge.conftest import sample_records

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    made = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'lock.db'}")
    try:
        await upgrade(made)
        yield made
    finally:
        await made.dispose()


def database_file(engine: AsyncEngine) -> str:
    return str(engine.url.database)


@contextmanager
def held_by_another_process(path: str, seconds: float) -> Iterator[threading.Event]:
    """Another connection holds the write lock for ``seconds`` (in a thread); the event is set on release."""
    taken, released = threading.Event(), threading.Event()

    def hold() -> None:
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # SQLite's write lock, as a batch's first INSERT takes it
            taken.set()
            time.sleep(seconds)
            other.execute("COMMIT")
        finally:
            released.set()
            other.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    if not taken.wait(5):
        raise AssertionError("the other connection did not get the write lock")
    try:
        yield released
    finally:
        thread.join(10)


async def add_program(engine: AsyncEngine, name: str) -> None:
    async with engine.begin() as conn:
        await SqlProgramRepository(conn).add(Program.create(name, "peer_pairs", "weekly", created_at=AT))


async def busy_timeout_ms(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar_one())


async def test_a_write_waits_for_another_writer_and_goes_in_once_it_lets_go(engine: AsyncEngine) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    running = asyncio.create_task(ticker())
    try:
        with held_by_another_process(database_file(engine), 0.4) as released:
            started = time.monotonic()
            await add_program(engine, "Waited")
            waited = time.monotonic() - started
            assert released.is_set()  # it went in after the other transaction, not beside it
    finally:
        running.cancel()
    assert waited >= 0.3
    assert ticks >= 20  # the wait happened in the driver's thread: the event loop kept running
    async with engine.connect() as conn:
        names = (await conn.execute(sa.select(t.programs.c.name))).scalars().all()
    assert names == ["Waited"]
    assert await busy_timeout_ms(engine) == round(BUSY_TIMEOUT_S * 1000)  # the poll's 1 ms is not left behind


async def test_bulk_rows_and_the_lrs_outbox_wait_for_the_lock_too(engine: AsyncEngine) -> None:
    await add_program(engine, "P")
    statement = StatementBuilder(activity_base_iri="https://coach.example.org/xapi").build_serialized(
        sample_records()[0])
    with held_by_another_process(database_file(engine), 0.3) as released:
        async with engine.begin() as conn:
            await enqueue(conn, [statement])  # the transaction's first write: lrs_bridge takes the lock itself
            assert released.is_set()
            await insert_many(conn, t.xapi_statements, [{"statement_id": str(statement.id), "participant_id": "p1",
                                                          "event_key": "k"}], skip_conflicts_on="statement_id")
    with held_by_another_process(database_file(engine), 0.3) as released:
        async with engine.begin() as conn:
            await insert_many(conn, t.xapi_statements, [{"statement_id": "other", "participant_id": "p2",
                                                          "event_key": "k2"}])
            assert released.is_set()
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(t.xapi_statements))).scalar_one() == 2


async def test_reads_never_wait_for_the_write_lock(engine: AsyncEngine) -> None:
    await add_program(engine, "P")
    with held_by_another_process(database_file(engine), 1.0) as released:
        async with engine.connect() as conn:
            names = (await conn.execute(sa.select(t.programs.c.name))).scalars().all()
        assert not released.is_set()
    assert names == ["P"]


async def test_a_writer_gives_up_with_database_is_locked_after_its_timeout(engine: AsyncEngine) -> None:
    with held_by_another_process(database_file(engine), 1.0) as released:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            started = time.monotonic()
            with pytest.raises(sqlite3.OperationalError) as failed:
                await acquire_write_lock(driver, timeout_s=0.2)
            assert 0.2 <= time.monotonic() - started < 0.9
            assert not released.is_set()
            assert is_busy(failed.value)
            assert not driver.in_transaction
            cursor = await driver.execute("PRAGMA busy_timeout")
            assert (await cursor.fetchone()) == (200,)  # its own timeout again, not the poll's
