"""The outbox: same-transaction enqueue, idempotence, stored-once payloads, status, replay, migration."""

from __future__ import annotations

import importlib.util
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from lrs_bridge import pseudonyms  # noqa: F401  (its table is on the shared metadata)
from lrs_bridge.outbox import (
    STATUS_DEAD,
    STATUS_QUEUED,
    dead_letters,
    enqueue,
    metadata,
    outbox_table,
    replay_dead,
    status,
)
from lrs_bridge.statements import SerializedStatement, StatementBuilder, serialize
from tests.lrs_bridge.conftest import sample_records

BUILDER = StatementBuilder(activity_base_iri="https://coach.example.org/xapi")

# A stand-in for an application table changed in the same transaction as the statements.
app_metadata = MetaData()
checkins = Table("checkins", app_metadata, Column("id", Integer, primary_key=True),
                 Column("note", String(50)))


async def _payloads(engine: AsyncEngine) -> dict[str, str]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(outbox_table.c.statement_id, outbox_table.c.payload))
        return {r.statement_id: r.payload for r in rows}


async def test_enqueue_commits_with_the_callers_transaction(sqlite_engine: AsyncEngine) -> None:
    async with sqlite_engine.begin() as conn:
        await conn.run_sync(app_metadata.create_all)
    statements = [BUILDER.build(r) for r in sample_records()]
    async with sqlite_engine.begin() as conn:
        await conn.execute(insert(checkins).values(note="met"))
        assert await enqueue(conn, statements) == len(statements)
    stored = await _payloads(sqlite_engine)
    assert stored == {str(s.id): serialize(s) for s in statements}


async def test_enqueue_rolls_back_with_the_callers_transaction(sqlite_engine: AsyncEngine) -> None:
    async with sqlite_engine.begin() as conn:
        await conn.run_sync(app_metadata.create_all)
    with pytest.raises(RuntimeError):
        async with sqlite_engine.begin() as conn:
            await conn.execute(insert(checkins).values(note="met"))
            await enqueue(conn, [BUILDER.build(sample_records()[0])])
            raise RuntimeError("the use case failed after queuing")
    assert await _payloads(sqlite_engine) == {}
    async with sqlite_engine.connect() as conn:
        assert (await conn.execute(select(checkins))).all() == []


async def test_retried_event_enqueues_nothing_new(sqlite_engine: AsyncEngine) -> None:
    records = sample_records("retry")
    async with sqlite_engine.begin() as conn:
        assert await enqueue(conn, [BUILDER.build(r) for r in records]) == len(records)
    first = await _payloads(sqlite_engine)
    # The same events again (a retried request), even in a batch repeating one statement twice.
    again = [BUILDER.build(r) for r in records] + [BUILDER.build(records[0])]
    async with sqlite_engine.begin() as conn:
        assert await enqueue(conn, again) == 0
    assert await _payloads(sqlite_engine) == first


async def test_enqueue_alone_rolls_back_when_the_transaction_fails(sqlite_engine: AsyncEngine) -> None:
    # The outbox write is the transaction's first statement: it must still belong to that transaction.
    with pytest.raises(RuntimeError):
        async with sqlite_engine.begin() as conn:
            await enqueue(conn, [BUILDER.build(sample_records()[0])])
            raise RuntimeError("failed before commit")
    assert await _payloads(sqlite_engine) == {}


async def test_enqueue_stores_dates_exactly_as_sqlalchemy_does(sqlite_engine: AsyncEngine,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # The relay compares next_attempt_at as text on SQLite, so both writers must produce one format.
    when = datetime(2026, 3, 29, 1, 30, 5, 123456, tzinfo=UTC)
    ser = BUILDER.build_serialized(sample_records()[0])
    async with sqlite_engine.begin() as conn:
        await conn.execute(insert(outbox_table).values(
            statement_id="reference", payload="{}", status=STATUS_QUEUED, created_at=when,
            next_attempt_at=when, attempts=0))
    monkeypatch.setattr("lrs_bridge.outbox._now", lambda: when)
    async with sqlite_engine.begin() as conn:
        assert await enqueue(conn, [ser]) == 1
    async with sqlite_engine.connect() as conn:
        raw = (await conn.exec_driver_sql(
            "SELECT statement_id, created_at, next_attempt_at, status, attempts FROM lrs_outbox")).all()
        typed = (await conn.execute(select(outbox_table.c.created_at, outbox_table.c.next_attempt_at)
                                    .where(outbox_table.c.statement_id == str(ser.id)))).one()
    by_id = {row[0]: tuple(row[1:]) for row in raw}
    assert by_id[str(ser.id)] == by_id["reference"]
    assert typed == (when.replace(tzinfo=None), when.replace(tzinfo=None))


async def test_enqueue_works_on_an_async_session(sqlite_engine: AsyncEngine) -> None:
    sessions = async_sessionmaker(sqlite_engine, class_=AsyncSession)
    ser = BUILDER.build_serialized(sample_records()[0])
    async with sessions() as session, session.begin():
        assert await enqueue(session, [ser]) == 1
    assert await _payloads(sqlite_engine) == {str(ser.id): ser.payload}


async def test_enqueue_refuses_statement_without_id(sqlite_engine: AsyncEngine) -> None:
    statement = BUILDER.build(sample_records()[0])
    statement.id = None
    async with sqlite_engine.begin() as conn:
        with pytest.raises(ValueError, match="needs its id"):
            await enqueue(conn, [statement])


async def test_enqueue_of_nothing_is_a_no_op(sqlite_engine: AsyncEngine) -> None:
    async with sqlite_engine.begin() as conn:
        assert await enqueue(conn, []) == 0


async def test_status_counts_states_and_oldest_age(sqlite_engine: AsyncEngine) -> None:
    assert (await status(sqlite_engine)).as_dict() == {
        "queued": 0, "delivered": 0, "dead": 0, "oldest_queued_age_s": None}
    records = sample_records()
    async with sqlite_engine.begin() as conn:
        await enqueue(conn, [BUILDER.build(r) for r in records])
        ids = [str(BUILDER.statement_id(r.event_key)) for r in records[:3]]
        await conn.execute(update(outbox_table).where(outbox_table.c.statement_id == ids[0])
                           .values(status="sent"))
        await conn.execute(update(outbox_table).where(outbox_table.c.statement_id == ids[1])
                           .values(status=STATUS_DEAD, last_status=409, last_error="conflict"))
        await conn.execute(update(outbox_table).where(outbox_table.c.statement_id == ids[2])
                           .values(created_at=datetime.now(UTC) - timedelta(minutes=5)))
    st = await status(sqlite_engine)
    assert (st.queued, st.delivered, st.dead) == (len(records) - 2, 1, 1)
    assert st.oldest_queued_age_s is not None and 299 < st.oldest_queued_age_s < 400


async def test_replay_dead_requeues_only_dead_rows(sqlite_engine: AsyncEngine) -> None:
    records = sample_records()
    async with sqlite_engine.begin() as conn:
        await enqueue(conn, [BUILDER.build(r) for r in records])
        dead_ids = [BUILDER.statement_id(r.event_key) for r in records[:2]]
        await conn.execute(update(outbox_table)
                           .where(outbox_table.c.statement_id.in_([str(i) for i in dead_ids]))
                           .values(status=STATUS_DEAD, attempts=3, last_status=422, last_error="bad mbox"))
    letters = await dead_letters(sqlite_engine)
    assert [(d.statement_id, d.status_code, d.reason) for d in letters] == [
        (dead_ids[0], 422, "bad mbox"), (dead_ids[1], 422, "bad mbox")]
    assert await replay_dead(sqlite_engine, [dead_ids[1]]) == 1
    assert (await status(sqlite_engine)).dead == 1
    assert await replay_dead(sqlite_engine) == 1
    st = await status(sqlite_engine)
    assert (st.queued, st.dead) == (len(records), 0)
    async with sqlite_engine.connect() as conn:
        rows = (await conn.execute(select(outbox_table.c.status, outbox_table.c.attempts))).all()
    assert {(r.status, r.attempts) for r in rows} == {(STATUS_QUEUED, 0)}


async def test_serialized_statements_are_stored_verbatim(sqlite_engine: AsyncEngine) -> None:
    odd = SerializedStatement(id=uuid.uuid4(), payload='{"custom":  "spacing kept"}')
    async with sqlite_engine.begin() as conn:
        await enqueue(conn, [odd])
    assert await _payloads(sqlite_engine) == {str(odd.id): odd.payload}


def _load_migration(name: str = "lrs_0001_outbox.py") -> object:
    path = Path(__file__).parents[2] / "lrs_bridge" / "migrations" / "versions" / name
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_migration_metadata_is_an_own_branch() -> None:
    module = _load_migration()
    assert module.revision == "lrs_0001"  # type: ignore[attr-defined]
    assert module.down_revision is None  # type: ignore[attr-defined]
    assert module.branch_labels == ("lrs_bridge",)  # type: ignore[attr-defined]


async def test_migration_creates_exactly_the_tables_the_code_uses(tmp_path: Path) -> None:
    module = _load_migration()
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}")

    def upgrade_and_compare(sync_conn: object) -> list[object]:
        context = MigrationContext.configure(sync_conn)  # type: ignore[arg-type]
        with Operations.context(context):
            module.upgrade()  # type: ignore[attr-defined]
            _load_migration("lrs_0002_pseudonyms.py").upgrade()  # type: ignore[attr-defined]
        return list(compare_metadata(context, metadata))

    async with engine.begin() as conn:
        diffs = await conn.run_sync(upgrade_and_compare)
    assert diffs == []

    def downgrade(sync_conn: object) -> list[str]:
        context = MigrationContext.configure(sync_conn)  # type: ignore[arg-type]
        with Operations.context(context):
            module.downgrade()  # type: ignore[attr-defined]
        from sqlalchemy import inspect
        return inspect(sync_conn).get_table_names()  # type: ignore[arg-type]

    async with engine.begin() as conn:
        assert "lrs_outbox" not in await conn.run_sync(downgrade)
    await engine.dispose()
