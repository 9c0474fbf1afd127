"""The SQL notification queue: the unit of work's ``notifications`` port over the ``bot_notifications`` table.

Rows are written on the unit of work's connection, so they commit or roll back with the change that caused
them. The bot's sender claims and delivers them later (``adapters/bot/store.py`` ``Outbox``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from teams_app.adapters.db.bot_tables import bot_conversation_members, bot_conversations, bot_notifications
from teams_app.adapters.db.tables import insert_for
from teams_app.domain.model import Participant
from teams_app.domain.notifications import Notice

PENDING = "pending"


def insert_ignoring_conflicts(conn: AsyncConnection, table: sa.Table) -> Any:
    """An INSERT that can ignore conflicts on SQLite and PostgreSQL alike."""
    return insert_for(conn.dialect.name, table)


async def enqueue(conn: AsyncConnection, rows: Iterable[tuple[str, str, str, Mapping[str, Any], str]],
                  now: datetime) -> int:
    """Insert outbox rows (id, participant, kind, payload, channel) inside the caller's transaction."""
    values = [{"id": nid, "participant_id": pid, "kind": str(kind), "payload": dict(payload),
               "channel": str(channel), "status": PENDING, "attempts": 0, "next_attempt_at": now,
               "created_at": now, "last_error": "", "activity_id": ""} for nid, pid, kind, payload, channel in rows]
    if not values:
        return 0
    if conn.dialect.name != "postgresql":
        result = await conn.execute(insert_ignoring_conflicts(conn, bot_notifications).on_conflict_do_nothing(),
                                    values)
        return int(result.rowcount or 0)
    # asyncpg reports no row count for executemany: insert multi-row VALUES and count what RETURNING gives
    # back, in chunks that stay under PostgreSQL's 32,767 bind parameters.
    added = 0
    for start in range(0, len(values), 2000):
        stmt = (insert_for("postgresql", bot_notifications).values(values[start:start + 2000])
                .on_conflict_do_nothing().returning(bot_notifications.c.id))
        added += len((await conn.execute(stmt)).all())
    return added


class SqlNotificationQueue:
    """Satisfies ``service.ports.NotificationQueue`` on one connection (the unit of work's)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, notices: Sequence[Notice], now: datetime) -> int:
        return await enqueue(self._conn, ((n.id, n.recipient_id, n.kind, n.payload, n.channel) for n in notices),
                             now)

    async def queued_at(self, notice_ids: Sequence[str]) -> dict[str, datetime]:
        if not notice_ids:
            return {}
        t = bot_notifications.c
        rows = (await self._conn.execute(sa.select(t.id, t.created_at).where(t.id.in_(list(notice_ids))))).all()
        return {row.id: row.created_at for row in rows}

    async def channel_targets(self, tenant_id: str) -> list[str]:
        c = bot_conversations.c
        query = sa.select(c.id).where(c.conversation_type == "channel").order_by(c.id)
        if tenant_id:
            query = query.where(c.tenant_id == tenant_id)
        return [str(ref_id) for ref_id in (await self._conn.execute(query)).scalars().all()]

    async def named_channel(self, channel_id: str, tenant_id: str) -> list[str]:
        c = bot_conversations.c
        # A reply thread's conversation id is the channel id plus ';messageid=...': the channel itself first.
        escaped = channel_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = (sa.select(c.id).where(c.conversation_type == "channel",
                                       sa.or_(c.conversation_id == channel_id,
                                              c.conversation_id.like(f"{escaped};%", escape="\\")))
                 .order_by((c.conversation_id != channel_id), c.updated_at.desc(), c.id).limit(1))
        if tenant_id:
            query = query.where(c.tenant_id == tenant_id)
        return [str(ref_id) for ref_id in (await self._conn.execute(query)).scalars().all()]

    async def group_chats_of(self, aad_object_ids: Sequence[str], tenant_id: str) -> list[str]:
        wanted = sorted({a for a in aad_object_ids if a})
        if not wanted:
            return []
        m, c = bot_conversation_members.c, bot_conversations.c
        inside = sa.func.sum(sa.case((m.aad_object_id.in_(wanted), 1), else_=0))
        query = (sa.select(m.conversation_ref_id).join(bot_conversations, c.id == m.conversation_ref_id)
                 .where(c.conversation_type == "groupChat").group_by(m.conversation_ref_id)
                 .having(sa.and_(sa.func.count() == len(wanted), inside == len(wanted)))
                 .order_by(m.conversation_ref_id))
        if tenant_id:
            query = query.where(c.tenant_id == tenant_id)
        return [str(ref_id) for ref_id in (await self._conn.execute(query)).scalars().all()]

    async def forget(self, participant: Participant) -> None:
        c = bot_conversations.c
        keys = [c.user_key == participant.email.lower()]
        if participant.aad_object_id:
            keys.append(c.aad_object_id == participant.aad_object_id)
        await self._conn.execute(sa.delete(bot_conversations).where(c.conversation_type == "personal",
                                                                   sa.or_(*keys)))
        if participant.aad_object_id:  # no group chat roster names them any more either
            await self._conn.execute(sa.delete(bot_conversation_members).where(
                bot_conversation_members.c.aad_object_id == participant.aad_object_id))
        await self._conn.execute(sa.delete(bot_notifications).where(
            bot_notifications.c.participant_id == participant.id))
