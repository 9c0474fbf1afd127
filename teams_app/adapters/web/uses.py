"""What web twins remember: spent actions (no replay) and which browser session may act with a link.

Both are rows of ``bot_web_twin_uses`` keyed by a nonce, written with INSERT ... ON CONFLICT DO NOTHING so two
instances (or two tabs) racing for the same nonce cannot both win. Rows are kept until the link expires (after
that the link itself is refused) and then pruned.
"""

from __future__ import annotations

import logging
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from teams_app.adapters.db.bot_tables import bot_web_twin_uses
from teams_app.adapters.db.notifications import insert_ignoring_conflicts

logger = logging.getLogger(__name__)


class Claim(StrEnum):
    MINE = "mine"  # this session claimed the link now, or had claimed it before
    TAKEN = "taken"  # another session acted with this link first


class TwinUses:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _insert(self, key: str, session_tag: str, person_id: str, expires_at: datetime) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(insert_ignoring_conflicts(conn, bot_web_twin_uses).values(
                key=key, session_tag=session_tag, participant_id=person_id, expires_at=expires_at,
            ).on_conflict_do_nothing())
        return bool(result.rowcount)

    async def claim(self, link_nonce: str, session_tag: str, person_id: str, expires_at: datetime) -> Claim:
        """The first session that acts with a link owns it; later sessions are told it is taken."""
        key = f"claim:{link_nonce}"
        if await self._insert(key, session_tag, person_id, expires_at):
            return Claim.MINE
        async with self._engine.connect() as conn:
            owner = (await conn.execute(sa.select(bot_web_twin_uses.c.session_tag).where(
                bot_web_twin_uses.c.key == key))).scalar()
        return Claim.MINE if owner == session_tag else Claim.TAKEN

    async def spend(self, action_nonce: str, session_tag: str, person_id: str, expires_at: datetime) -> bool:
        """Mark a rendered card's action as used; False when it was used already (a replay)."""
        return await self._insert(f"spent:{action_nonce}", session_tag, person_id, expires_at)

    async def prune(self, now: datetime) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(sa.delete(bot_web_twin_uses).where(bot_web_twin_uses.c.expires_at < now))
        return int(result.rowcount or 0)
