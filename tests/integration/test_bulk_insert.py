"""Rows written through the driver's executemany (SQLite) are stored exactly as SQLAlchemy's own insert
stores them, in the caller's transaction; PostgreSQL takes SQLAlchemy's path with the same results."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from teams_app.adapters.db import tables as t
from teams_app.adapters.db.bulk import insert_many, prepare_rows, write_prepared
from teams_app.adapters.db.migrate import upgrade
from teams_app.adapters.db.repositories import SqlProgramRepository, profile_to_json
from teams_app.adapters.db.uow import make_engine
from teams_app.domain.model import Profile, Program
from tests.conftest import PostgresDatabase

AT = datetime(2026, 11, 30, 9, 15, 30, 123456, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    database = PostgresDatabase() if request.param == "postgres" else None
    if database is not None:
        await database.create()
    made = make_engine(database.url if database else f"sqlite+aiosqlite:///{tmp_path / 'bulk.db'}")
    try:
        await upgrade(made)
        async with made.begin() as conn:
            await SqlProgramRepository(conn).add(Program.create("P", "peer_pairs", "weekly", program_id="prog",
                                                                created_at=AT))
        yield made
    finally:
        await made.dispose()
        if database is not None:
            await database.drop()


def participant_row(n: int) -> dict[str, Any]:
    profile = Profile.build(department=f"Dept {n}", time_zone="Europe/Berlin", skills_offered="SQL;Python",
                            start_date="2026-12-01", seniority=3)
    return {"id": f"00000000-0000-7000-8000-{n:012d}", "email": f"p{n}@example.com", "display_name": f"Person {n}",
            "tenant_id": "", "aad_object_id": "", "locale": "de", "profile": profile_to_json(profile),
            "manager_email": "", "teams_reachable": n % 2 == 0}


def enrollment_row(n: int) -> dict[str, Any]:
    return {"program_id": "prog", "participant_id": participant_row(n)["id"], "status": "active",
            "consent_at": AT, "joined_at": AT, "paused_until": date(2027, 1, n + 1) if n % 2 else None,
            "priority": n}


async def stored(engine: AsyncEngine, table: sa.Table, key: str) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        rows = await conn.execute(table.select().order_by(table.c[key]))
        return [tuple(row) for row in rows]


async def test_insert_many_stores_what_sqlalchemys_insert_stores(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(t.participants.insert(), [participant_row(n) for n in (0, 1)])
        await conn.execute(t.enrollments.insert(), [enrollment_row(n) for n in (0, 1)])
        await insert_many(conn, t.participants, [participant_row(n) for n in (2, 3)])
        await insert_many(conn, t.enrollments, [enrollment_row(n) for n in (2, 3)])
        await insert_many(conn, t.enrollments, [])
    people = await stored(engine, t.participants, "id")
    enrollments = await stored(engine, t.enrollments, "participant_id")
    assert len(people) == 4 and len(enrollments) == 4
    # Row n through the driver equals row n-2 through SQLAlchemy but for what the row itself says.
    assert [p[6] for p in people[2:]] == [participant_row(n)["profile"] for n in (2, 3)]
    assert [p[8] for p in people] == [True, False, True, False]
    assert [(e[3], e[4]) for e in enrollments] == [(enrollments[0][3], enrollments[0][4])] * 4
    assert [e[5] for e in enrollments] == [None, date(2027, 1, 2), None, date(2027, 1, 4)]
    if engine.dialect.name == "sqlite":  # the very same text in the file
        async with engine.connect() as conn:
            raw = (await conn.exec_driver_sql("SELECT consent_at, profile FROM enrollments JOIN participants "
                                              "ON participants.id = participant_id ORDER BY participant_id")).all()
        assert raw[2][0] == raw[0][0] and raw[2][1].replace("Dept 2", "Dept 0") == raw[0][1]


async def test_insert_many_skips_rows_already_there_when_asked(engine: AsyncEngine) -> None:
    rows = [{"statement_id": f"00000000-0000-5000-8000-{n:012d}", "participant_id": "x", "event_key": f"k{n}"}
            for n in range(3)]
    async with engine.begin() as conn:
        await insert_many(conn, t.xapi_statements, rows[:2], skip_conflicts_on="statement_id")
        await insert_many(conn, t.xapi_statements, rows, skip_conflicts_on="statement_id")
    assert [r[2] for r in await stored(engine, t.xapi_statements, "statement_id")] == ["k0", "k1", "k2"]
    with pytest.raises(sa.exc.IntegrityError):
        async with engine.begin() as conn:
            await insert_many(conn, t.xapi_statements, rows[:1])


async def test_prepared_rows_are_written_in_the_callers_transaction_and_rolled_back_with_it(
        engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.begin()
        prepared = prepare_rows(conn, t.participants, [participant_row(n) for n in (5, 6)])
        await write_prepared(conn, prepared)
        assert (await conn.execute(sa.select(sa.func.count()).select_from(t.participants))).scalar_one() == 2
        await conn.rollback()
    assert await stored(engine, t.participants, "id") == []


async def test_insert_many_refuses_rows_without_a_column_sqlalchemy_would_fill_in(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'defaults.db'}")
    table = sa.Table("things", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("kind", sa.String(10), default="plain"))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(table.metadata.create_all)
            with pytest.raises(ValueError, match="kind"):
                await insert_many(conn, table, [{"id": 1}])
            await insert_many(conn, table, [{"id": 2, "kind": "given"}])
        async with engine.connect() as conn:
            assert (await conn.execute(sa.select(table.c.kind))).all() == [("given",)]
    finally:
        await engine.dispose()


async def test_rows_read_by_key_hold_what_sqlalchemy_reads(engine: AsyncEngine) -> None:
    """select_where_in (SQLite: the driver in one hop, each column's result processor) gives SQLAlchemy's values:
    JSON decoded, booleans, aware datetimes, dates; unknown keys are left out, a repeated key is read once."""
    from teams_app.adapters.db.bulk import select_where_in

    async with engine.begin() as conn:
        await insert_many(conn, t.participants, [participant_row(n) for n in range(5)])
        await insert_many(conn, t.enrollments, [enrollment_row(n) for n in range(5)])
    emails = ["p3@example.com", "nobody@example.com", "p0@example.com", "p3@example.com"]
    async with engine.connect() as conn:
        cases = [(t.participants, "email", emails), (t.programs, "id", ["prog", "other"]),
                 (t.enrollments, "participant_id", [participant_row(n)["id"] for n in (1, 2, 4)])]
        for table, column, keys in cases:
            fast = sorted(tuple(row) for row in await select_where_in(conn, table, column, keys))
            slow = sorted(tuple(row) for row in await conn.execute(table.select().where(table.c[column].in_(keys))))
            assert fast == slow and fast
            assert [type(v) for v in fast[0]] == [type(v) for v in slow[0]]
        rows = await select_where_in(conn, t.participants, "email", emails)
        assert sorted(r.email for r in rows) == ["p0@example.com", "p3@example.com"]
        assert rows[0].profile["department"] in ("Dept 0", "Dept 3") and isinstance(rows[0].teams_reachable, bool)
        assert await select_where_in(conn, t.participants, "email", []) == []
