"""SQLite: take the database's write lock by polling every millisecond, not on SQLite's own back-off.

SQLite has one writer at a time. A connection that finds the lock taken calls its busy handler, and the
default one (``sqlite3_busy_timeout``) sleeps 1, 2, 5, 10, 15, 20, 25 ... ms between tries: a bot turn that
arrives while an import holds the lock for 10 ms tries again at 1, 3, 8, 18 and 33 ms, so it often waits
three times longer than the lock was held. Python's ``sqlite3`` cannot install another busy handler, so the
first write of a transaction takes the lock itself: ``BEGIN IMMEDIATE`` with a busy timeout of one
millisecond, again and again (each try sleeps in the driver's thread, never on the event loop) until it gets
the lock or the connection's own timeout has passed. Later statements of the transaction hold the lock
already and never wait. The write lock is taken at the first write, as the driver's implicit ``BEGIN``
would, so reads before it keep reading without it.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.util import await_

BUSY_TIMEOUT_S = 30.0  # how long a writer waits for the lock in all (the engine's busy timeout too)
POLL_MS = 1  # the busy timeout of one try: SQLite sleeps once for this long, then the loop tries again
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def is_busy(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or (
        "database is locked" in str(exc))


async def acquire_write_lock(driver: Any, timeout_s: float = BUSY_TIMEOUT_S) -> None:
    """Begin an IMMEDIATE transaction on ``driver`` (an ``aiosqlite.Connection`` not in a transaction).

    Raises ``sqlite3.OperationalError`` ("database is locked") after ``timeout_s``, as the driver would.
    """
    deadline = time.monotonic() + timeout_s
    await driver.execute(f"PRAGMA busy_timeout = {POLL_MS}")
    try:
        while True:
            try:
                await driver.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not is_busy(exc) or time.monotonic() >= deadline:
                    raise
    finally:
        await driver.execute(f"PRAGMA busy_timeout = {round(timeout_s * 1000)}")


async def driver_connection(conn: AsyncConnection) -> Any:
    """The ``aiosqlite.Connection`` under ``conn``, in its transaction (for statements that bypass SQLAlchemy)."""
    sync = conn.sync_connection
    if sync is not None and not sync.closed and not sync.invalidated:
        proxied = sync.connection  # already checked out: an attribute, no I/O
    else:
        proxied = await conn.get_raw_connection()
    driver = proxied.driver_connection
    if driver is None:
        raise RuntimeError("the database connection closed inside the transaction")
    return driver


async def ensure_write_lock(driver: Any, timeout_s: float = BUSY_TIMEOUT_S) -> None:
    """Before a write that bypasses SQLAlchemy (bulk inserts): take the lock unless this transaction has it."""
    if not driver.in_transaction:
        await acquire_write_lock(driver, timeout_s)


def _is_write(statement: str, context: Any) -> bool:
    if context is not None and getattr(context, "compiled", None) is not None:
        return bool(context.isinsert or context.isupdate or context.isdelete)
    return statement.lstrip().upper().startswith(_WRITES)


def poll_for_write_lock(engine: Engine, timeout_s: float = BUSY_TIMEOUT_S) -> None:
    """Install the polling lock on every write an ``aiosqlite`` engine's connections make."""

    @event.listens_for(engine, "before_cursor_execute")
    def _take_write_lock(conn: Any, _cursor: Any, statement: str, _parameters: Any, context: Any,
                         _executemany: bool) -> None:
        if not _is_write(statement, context):
            return
        driver = conn.connection.driver_connection
        if driver is not None and not driver.in_transaction:
            await_(acquire_write_lock(driver, timeout_s))  # runs in SQLAlchemy's greenlet: the loop goes on
