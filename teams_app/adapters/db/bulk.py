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
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from lrs_bridge.sqlite_lock import ensure_write_lock


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


@dataclass(frozen=True)
class PreparedRows:
    """Rows converted for the driver ahead of time (CPU work), written later by :func:`write_prepared`."""

    table: sa.Table
    keys: tuple[str, ...]
    skip_conflicts_on: str | None
    rows: Sequence[Mapping[str, Any]]  # as given (other databases take SQLAlchemy's path with these)
    params: list[tuple[Any, ...]] | None  # SQLite through aiosqlite: the values as the driver takes them


class PreparedAhead:
    """Rows a repository converted ahead of time (``pending``) for exactly these objects, taken by ``add_many``."""

    def __init__(self) -> None:
        self._kept: tuple[list[Any], PreparedRows] | None = None

    def keep(self, items: Sequence[Any], prepared: PreparedRows) -> None:
        self._kept = (list(items), prepared)

    def take(self, items: Sequence[Any]) -> PreparedRows | None:
        """The rows kept for these very objects, in this order (else None: the caller converts them now)."""
        kept, self._kept = self._kept, None
        if kept is None or len(kept[0]) != len(items) or any(a is not b for a, b in zip(kept[0], items, strict=True)):
            return None
        return kept[1]


def _through_driver(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "sqlite" and conn.dialect.driver == "aiosqlite"


def prepare_rows(conn: AsyncConnection, table: sa.Table, rows: Sequence[Mapping[str, Any]], *,
                 skip_conflicts_on: str | None = None) -> PreparedRows:
    """Convert ``rows`` (every row with the same keys) now, so that writing them later does no Python work
    per row: a caller that holds SQLite's write lock from its first write on does this before it."""
    keys = tuple(rows[0]) if rows else ()
    if not rows or not _through_driver(conn):
        return PreparedRows(table, keys, skip_conflicts_on, rows, None)
    columns = [(key, _same_as_last(value) if value is not None else None)
               for key, value in _prepare(table, keys, skip_conflicts_on, conn.dialect).columns]
    params = [tuple([value(row[key]) if value is not None else row[key] for key, value in columns])
              for row in rows]
    return PreparedRows(table, keys, skip_conflicts_on, rows, params)


def _same_as_last(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``process`` that converts a value once when row after row gives the very same object (a batch's
    ``now`` in every row's timestamps): bind processors are pure functions of their value."""
    last: list[Any] = [_UNSET, None]

    def convert(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, process(value)
        return last[1]

    return convert


_UNSET = object()


async def write_prepared(conn: AsyncConnection, prepared: PreparedRows) -> None:
    """INSERT what :func:`prepare_rows` converted, in the caller's transaction."""
    if not prepared.rows:
        return
    if prepared.params is None or not _through_driver(conn):
        await conn.execute(_statement(prepared.table, prepared.skip_conflicts_on, conn.dialect.name),
                           list(prepared.rows))
        return
    sql = _prepare(prepared.table, prepared.keys, prepared.skip_conflicts_on, conn.dialect).sql
    sync = conn.sync_connection
    if sync is not None and not sync.closed and not sync.invalidated:
        proxied = sync.connection  # already checked out: an attribute, no I/O
    else:
        proxied = await conn.get_raw_connection()
    driver = proxied.driver_connection
    if driver is None:
        raise RuntimeError("the database connection closed inside the transaction")
    try:
        await ensure_write_lock(driver)
        await driver.executemany(sql, prepared.params)
    except sqlite3.Error as exc:  # raised as SQLAlchemy would (IntegrityError, OperationalError, ...)
        raise sa.exc.DBAPIError.instance(sql, prepared.params[:1], exc, sqlite3.Error) from exc


async def insert_many(conn: AsyncConnection, table: sa.Table, rows: Sequence[Mapping[str, Any]], *,
                      skip_conflicts_on: str | None = None) -> None:
    """INSERT ``rows`` (every row with the same keys) in the caller's transaction.

    ``skip_conflicts_on``: a unique column; rows whose value is already there are left out (ON CONFLICT DO
    NOTHING), as a retried event must not index a statement twice.
    """
    await write_prepared(conn, prepare_rows(conn, table, rows, skip_conflicts_on=skip_conflicts_on))
