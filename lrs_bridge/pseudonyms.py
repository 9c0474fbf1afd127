"""Pseudonyms: the opaque per-person ids that name everyone but the actor in a statement.

A statement names its actor the way the LMS knows them; team members, partners and reviewees appear only
as ``account{homePage: <pseudonym home page>, name: <pseudonym>}``. The pseudonym is random (not derived
from the email or any id), so once :func:`forget` deletes the mapping row at erasure, nothing links it to
the person any more: the statements in the LRS that mention it keep a meaningless token.

The table lives in the caller's database and transaction, like the outbox.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from lrs_bridge.tables import pseudonym_table

logger = logging.getLogger(__name__)

def _insert(dialect_name: str) -> Any:
    if dialect_name == "postgresql":  # imported only where PostgreSQL is in use
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(pseudonym_table)
    return sqlite.insert(pseudonym_table)


def new_pseudonym() -> str:
    """128 random bits, hex: unguessable and unrelated to the person."""
    return secrets.token_hex(16)


async def pseudonyms(conn: AsyncConnection, person_keys: Iterable[str]) -> dict[str, str]:
    """The pseudonym of each person (created on first use), in the caller's transaction."""
    keys = sorted(set(person_keys))
    if not keys:
        return {}
    found = await _select(conn, keys)
    missing = [k for k in keys if k not in found]
    if missing:
        now = datetime.now(UTC)
        await conn.execute(
            _insert(conn.dialect.name).on_conflict_do_nothing(index_elements=["person_key"]),
            [{"person_key": k, "pseudonym": new_pseudonym(), "created_at": now} for k in missing],
        )
        found.update(await _select(conn, missing))  # a concurrent writer may have won: read what is stored
    return found


async def _select(conn: AsyncConnection, keys: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(keys), 500):
        rows = await conn.execute(select(pseudonym_table.c.person_key, pseudonym_table.c.pseudonym)
                                  .where(pseudonym_table.c.person_key.in_(keys[start:start + 500])))
        found.update({r.person_key: r.pseudonym for r in rows})
    return found


async def forget(conn: AsyncConnection, person_key: str) -> bool:
    """Delete the person's pseudonym (erasure); returns whether one existed."""
    result = await conn.execute(delete(pseudonym_table).where(pseudonym_table.c.person_key == person_key))
    return bool(result.rowcount)


__all__ = ["forget", "new_pseudonym", "pseudonym_table", "pseudonyms"]
