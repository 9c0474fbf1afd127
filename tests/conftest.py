"""Shared fixtures: databases (SQLite and a real PostgreSQL, one suite for both), clocks, services.

PostgreSQL is the scale-out store and must be tested for real: when it cannot be reached the tests fail
(they never skip), and the session summary counts the PostgreSQL tests that ran.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from teams_app.adapters.clock import FixedClock
from teams_app.adapters.db.migrate import upgrade
from teams_app.adapters.db.uow import SqlUnitOfWorkFactory, make_engine
from teams_app.service.messagebus import MessageBus
from teams_app.service.use_cases import CoachingService
from tests.fixtures.ralph_lrs import ralph_lrs  # noqa: F401 - a real LRS for every test that asks
from tests.fixtures.smtp import plain_smtp  # noqa: F401 - a local SMTP server for every test that asks

# `participants import` run in this process (CliRunner) would lower pytest's own CPU priority for good.
os.environ.setdefault("PEERCOACH_IMPORTS__NICENESS", "0")

PG_HOST = os.environ.get("PEERCOACH_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("PEERCOACH_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("PEERCOACH_TEST_PG_USER", "postgres")
PG_ADMIN_DB = os.environ.get("PEERCOACH_TEST_PG_DB", "test")


class PostgresDatabase:
    """A uniquely named database on the local server, created for one test and dropped after it."""

    def __init__(self) -> None:
        self.name = f"peercoach_test_{uuid.uuid4().hex[:12]}"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.name}"

    async def _admin(self) -> asyncpg.Connection:
        try:
            return await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB)
        except (OSError, asyncpg.PostgresError) as exc:
            pytest.fail(f"PostgreSQL at {PG_HOST}:{PG_PORT} is required for these tests and is unreachable: "
                        f"{exc}", pytrace=False)

    async def create(self) -> None:
        conn = await self._admin()
        try:
            await conn.execute(f'CREATE DATABASE "{self.name}"')
        finally:
            await conn.close()

    async def drop(self) -> None:
        conn = await self._admin()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            await conn.close()


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    database = PostgresDatabase()
    await database.create()
    try:
        yield database.url
    finally:
        await database.drop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """One persistence suite, two backends."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'peercoach.db'}"
        return
    database = PostgresDatabase()
    await database.create()
    try:
        yield database.url
    finally:
        await database.drop()


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(db_url)
    await upgrade(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))  # a Monday


@pytest.fixture
def bus() -> MessageBus:
    return MessageBus()


@pytest.fixture
def service(engine: AsyncEngine, bus: MessageBus, clock: FixedClock) -> CoachingService:
    return CoachingService(SqlUnitOfWorkFactory(engine), bus, clock)


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


# -- the PostgreSQL half must run -----------------------------------------------------------------
_pg_outcomes: dict[str, int] = {"passed": 0, "failed": 0, "skipped": 0}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "postgres" not in report.keywords:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _pg_outcomes[report.outcome] = _pg_outcomes.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    ran = sum(_pg_outcomes.values())
    if ran:
        terminalreporter.write_line(
            f"PostgreSQL tests: {_pg_outcomes['passed']} passed, {_pg_outcomes['failed']} failed, "
            f"{_pg_outcomes['skipped']} skipped")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _pg_outcomes["skipped"] and exitstatus == 0:
        session.exitstatus = 1  # a skipped PostgreSQL test is a failure: CI must exercise the real server
