"""Many rows into one table in one statement; on SQLite straight through the driver's ``executemany``.

SQLAlchemy processes every parameter of every row on its way to the driver (and the aiosqlite adapter makes
several hops to aiosqlite's thread per statement); for an import's batches that was a large part of the
cost. On SQLite the statement is compiled once per table and set of columns, each value is converted by
the column type's own bind processor (so what is stored is exactly what SQLAlchemy would store), and the
rows go to the driver connection under ``conn`` in one ``executemany``: same connection, same transaction,
so they commit or roll back with the caller's other writes. Other databases take SQLAlchemy's path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class _Prepared:
    sql: str
    columns: tuple[tuple[str, Callable[[Any], Any] | None], ...]  # in the statement's parameter order


@functools.lru_cache(maxsize=64)
def _prepare(table: sa.Table, keys: tuple[str, ...], skip_conflicts_on: str | None, dialect: Dialect) -> _Prepared:
    missing = [c.name for c in table.columns if c.name not in keys and c.default is not None]
    if missing:  # a Python-side default SQLAlchemy would have filled in
        raise ValueError(f"rows for {table.name} must give {', '.join(missing)}")
    statement = sqlite.insert(table)
    if skip_conflicts_on is not None:
        statement = statement.on_conflict_do_nothing(index_elements=[skip_conflicts_on])
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    order = tuple(compiled.positiontup or ())
    if sorted(order) != sorted(keys):
        raise ValueError(f"unexpected parameters {order} for the columns {keys}")
    return _Prepared(str(compiled), tuple(
        (key, table.c[key].type.dialect_impl(dialect).bind_processor(dialect)) for key in order))


def _statement(table: sa.Table, skip_conflicts_on: str | None, dialect_name: str) -> Any:
    if skip_conflicts_on is None:
        return table.insert()
    if dialect_name == "postgresql":
        from sqlalchemy.dialects import postgresql  # only a PostgreSQL process loads its dialect

        return postgresql.insert(table).on_conflict_do_nothing(index_elements=[skip_conflicts_on])
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=[skip_conflicts_on])


async def insert_many(conn: AsyncConnection, table: sa.Table, rows: Sequence[Mapping[str, Any]], *,
                      skip_conflicts_on: str | None = None) -> None:
    """INSERT ``rows`` (every row with the same keys) in the caller's transaction.

    ``skip_conflicts_on``: a unique column; rows whose value is already there are left out (ON CONFLICT DO
    NOTHING), as a retried event must not index a statement twice.
    """
    if not rows:
        return
    if conn.dialect.name != "sqlite" or conn.dialect.driver != "aiosqlite":
        await conn.execute(_statement(table, skip_conflicts_on, conn.dialect.name), list(rows))
        return
    prepared = _prepare(table, tuple(rows[0]), skip_conflicts_on, conn.dialect)
    columns = prepared.columns
    params = [tuple([value(row[key]) if value is not None else row[key] for key, value in columns])
              for row in rows]
    sync = conn.sync_connection
    if sync is not None and not sync.closed and not sync.invalidated:
        proxied = sync.connection  # already checked out: an attribute, no I/O
    else:
        proxied = await conn.get_raw_connection()
    driver = proxied.driver_connection
    if driver is None:
        raise RuntimeError("the database connection closed inside the transaction")
    await driver.executemany(prepared.sql, params)
