"""Singleton jobs across servers: a PostgreSQL advisory lock held for one run of a job.

Several ``peercoach serve`` processes may share a database; a job such as booking the meetings of new
matches must run in one of them at a time. SQLite deployments run one server, so no lock is needed there.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (advisory lock keys are bigints)."""
    return int.from_bytes(hashlib.sha256(f"peercoach:{name}".encode()).digest()[:8], "big", signed=True)


@asynccontextmanager
async def singleton(engine: AsyncEngine, name: str) -> AsyncIterator[bool]:
    """Yield True when this process may run job ``name`` now (and hold it until the block ends)."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = lock_key(name)
    async with engine.connect() as conn:
        acquired = bool((await conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})).scalar())
        await conn.commit()  # a session-level lock outlives the transaction; the connection holds it
        try:
            yield acquired
        finally:
            if acquired:
                await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                await conn.commit()
