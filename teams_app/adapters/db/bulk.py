"""Many rows into one table in one statement, and rows read by key; on SQLite straight through the driver.

SQLAlchemy processes every parameter of every row on its way to the driver (and the aiosqlite adapter makes
several hops to aiosqlite's thread per statement); for an import's batches that was a large part of the
cost. On SQLite the statement is compiled once per table and set of columns, each value is converted by
the column type's own bind processor (so what is stored is exactly what SQLAlchemy would store), and the
rows go to the driver connection under ``conn`` in one ``executemany``: same connection, same transaction,
so they commit or roll back with the caller's other writes. :func:`select_where_in` reads the same way, in one
hop, each value converted by its column type's result processor (so a row holds what SQLAlchemy would give).
Other databases take SQLAlchemy's path.
"""

from __future__ import annotations

import collections
import functools
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from lrs_bridge.sqlite_lock import driver_connection, ensure_write_lock


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


_UNSET = object()


def _same_as_last(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``process`` that converts a value once when row after row gives the very same object (a batch's
    ``now`` in every row's timestamps): bind processors are pure functions of their value."""
    last: list[Any] = [_UNSET, None]

    def convert(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, process(value)
        return last[1]

    return convert



async def write_prepared(conn: AsyncConnection, prepared: PreparedRows) -> None:
    """INSERT what :func:`prepare_rows` converted, in the caller's transaction."""
    if not prepared.rows:
        return
    if prepared.params is None or not _through_driver(conn):
        await conn.execute(_statement(prepared.table, prepared.skip_conflicts_on, conn.dialect.name),
                           list(prepared.rows))
        return
    sql = _prepare(prepared.table, prepared.keys, prepared.skip_conflicts_on, conn.dialect).sql
    driver = await driver_connection(conn)
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


@dataclass(frozen=True)
class _Select:
    sql: str
    bind: Callable[[Any], Any] | None  # the key column's bind processor
    results: tuple[Callable[[Any], Any] | None, ...]  # each column's result processor, in table order
    row: Callable[..., Any]  # a named tuple of the table's columns


@functools.lru_cache(maxsize=128)
def _prepare_select(table: sa.Table, column: str, n: int, dialect: Dialect) -> _Select:
    key = table.c[column]
    compiled = sa.select(table).where(key.in_([sa.bindparam(f"v{i}") for i in range(n)])).compile(dialect=dialect)
    if tuple(compiled.positiontup or ()) != tuple(f"v{i}" for i in range(n)):
        raise ValueError(f"unexpected parameters {compiled.positiontup} for {table.name}.{column}")
    columns = list(table.columns)
    return _Select(str(compiled), key.type.dialect_impl(dialect).bind_processor(dialect),
                   tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns),
                   collections.namedtuple(f"{table.name}_row", [c.name for c in columns]))  # type: ignore[misc]


async def select_where_in(conn: AsyncConnection, table: sa.Table, column: str, values: Sequence[Any]) -> list[Any]:
    """``SELECT * FROM table WHERE column IN values`` in the caller's transaction: rows whose columns read as
    attributes, as SQLAlchemy's rows do (at most a few hundred values: SQLite's parameter limit)."""
    if not values:
        return []
    if not _through_driver(conn):
        return list(await conn.execute(sa.select(table).where(table.c[column].in_(values))))
    prepared = _prepare_select(table, column, len(values), conn.dialect)
    params = [prepared.bind(v) for v in values] if prepared.bind is not None else list(values)
    driver = await driver_connection(conn)
    try:
        found = await driver.execute_fetchall(prepared.sql, params)  # one hop to the driver's thread
    except sqlite3.Error as exc:
        raise sa.exc.DBAPIError.instance(prepared.sql, params[:1], exc, sqlite3.Error) from exc
    pairs = [(i, convert) for i, convert in enumerate(prepared.results) if convert is not None]
    rows = []
    for raw in found:
        values_out = list(raw)
        for i, convert in pairs:
            values_out[i] = convert(values_out[i])
        rows.append(prepared.row(*values_out))
    return rows
