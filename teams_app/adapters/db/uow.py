"""The SQL unit of work (one AsyncConnection, one transaction) and engine creation."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from lrs_bridge.sqlite_lock import BUSY_TIMEOUT_S, poll_for_write_lock
from teams_app.adapters.db.notifications import SqlNotificationQueue
from teams_app.adapters.db.repositories import (
    SqlCheckInRepository,
    SqlEnrollmentRepository,
    SqlMatchRepository,
    SqlMeetingRepository,
    SqlPairRuleRepository,
    SqlParticipantRepository,
    SqlProgramRepository,
    SqlRoundRepository,
)
from teams_app.domain.events import Event
from teams_app.service import ports


def make_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine; SQLite gets foreign keys on, WAL, and writers that wait for the write lock (up to
    :data:`BUSY_TIMEOUT_S`), polling for it every millisecond (:mod:`lrs_bridge.sqlite_lock`)."""
    kwargs: dict[str, Any] = {"echo": echo}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_S}
    else:
        kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=10)
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):
        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        if engine.dialect.driver == "aiosqlite":
            poll_for_write_lock(engine.sync_engine)
    return engine


async def use_for_bulk_writes(engine: AsyncEngine) -> None:
    """SQLite, in a process that only imports (``participants import``): commits skip their fsync.

    In WAL mode ``synchronous=NORMAL`` never corrupts the database; it only lets a power cut (not a crash
    of the process) lose commits that no checkpoint has synced yet. The import checkpoints between batches
    (:func:`checkpoint_wal`, which syncs the WAL first; one at a time, in the background), so that window is the
    few batches since the last checkpoint, their import checkpoint row is lost with them (a rerun writes them
    again), and the import syncs everything before it reports success. What it buys: the fsync no longer runs while the
    import holds SQLite's single write lock, so the bot's writes wait less. The bot and the relay keep FULL.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine.sync_engine, "connect")
    def _bulk(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    await engine.dispose()  # pooled connections are opened again, with the pragma


async def checkpoint_wal(engine: AsyncEngine) -> None:
    """SQLite: copy committed pages from the WAL into the database now (PASSIVE: never blocks a writer).

    A bulk writer calls it between batches so that the WAL stays short: otherwise the commit of whichever
    connection finds it over ``wal_autocheckpoint`` pages (often the bot's) does this work, and fsyncs, inline.
    """
    if engine.dialect.name != "sqlite":
        return
    async with engine.connect() as conn:
        await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


class SqlUnitOfWork:
    """Repositories and the notification queue over one connection in one transaction."""

    programs: ports.ProgramRepository
    participants: ports.ParticipantRepository
    enrollments: ports.EnrollmentRepository
    rounds: ports.RoundRepository
    matches: ports.MatchRepository
    meetings: ports.MeetingRepository
    check_ins: ports.CheckInRepository
    pair_rules: ports.PairRuleRepository
    notifications: ports.NotificationQueue

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.events: list[Event] = []
        self.flushed: list[Event] = []
        self.connection: AsyncConnection

    async def __aenter__(self) -> Self:
        self.connection = await self._engine.connect()
        await self.connection.begin()
        conn = self.connection
        self.programs = SqlProgramRepository(conn)
        self.participants = SqlParticipantRepository(conn)
        self.enrollments = SqlEnrollmentRepository(conn)
        self.rounds = SqlRoundRepository(conn)
        self.matches = SqlMatchRepository(conn)
        self.meetings = SqlMeetingRepository(conn)
        self.check_ins = SqlCheckInRepository(conn)
        self.pair_rules = SqlPairRuleRepository(conn)
        self.notifications = SqlNotificationQueue(conn)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        try:
            if self.connection.in_transaction():
                await self.connection.rollback()  # anything not committed explicitly is discarded
        finally:
            self.events.clear()
            self.flushed.clear()
            await self.connection.close()

    async def commit(self) -> None:
        await self.connection.commit()

    async def rollback(self) -> None:
        await self.connection.rollback()


class SqlUnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)
