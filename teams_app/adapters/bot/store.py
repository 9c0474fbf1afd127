"""SQL access for the bot's tables: conversation references, the notification outbox, inbound dedup.

Plain SQLAlchemy Core over the lead's engine (no botbuilder here): conversation references are stored as
the JSON the Bot Framework serializes, so this module never needs the botbuilder types.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from teams_app.adapters.db.bot_tables import (
    bot_conversation_members,
    bot_conversations,
    bot_match_cards,
    bot_notifications,
    bot_processed_activities,
    bot_welcomes,
)
from teams_app.adapters.db.notifications import enqueue, insert_ignoring_conflicts  # noqa: F401 - enqueue: benchmarks
from teams_app.domain.model import stable_id
from teams_app.domain.notifications import CardState, Channel, card_state_after, notice_id

logger = logging.getLogger(__name__)

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
TEAMS, EMAIL = Channel.TEAMS.value, Channel.EMAIL.value
notification_id = notice_id  # the one id scheme (domain.notifications)


_insert = insert_ignoring_conflicts


@dataclass(frozen=True)
class ConversationRef:
    id: str
    channel_id: str
    conversation_id: str
    conversation_type: str
    tenant_id: str
    aad_object_id: str
    user_key: str
    team_id: str
    service_url: str
    locale: str
    reference: dict[str, Any]
    updated_at: datetime


def _ref(row: Any) -> ConversationRef:
    return ConversationRef(row.id, row.channel_id, row.conversation_id, row.conversation_type, row.tenant_id,
                           row.aad_object_id, row.user_key, row.team_id, row.service_url, row.locale,
                           dict(row.reference), row.updated_at)


class ConversationStore:
    """Conversation references, refreshed from every inbound activity."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    async def save(self, *, channel_id: str, conversation_id: str, conversation_type: str, tenant_id: str,
                   aad_object_id: str, user_key: str, team_id: str, service_url: str, locale: str,
                   reference: Mapping[str, Any], now: datetime) -> str:
        ref_id = stable_id("conversation", channel_id, conversation_id)
        values = {"channel_id": channel_id, "conversation_id": conversation_id,
                  "conversation_type": conversation_type or "personal", "tenant_id": tenant_id,
                  "aad_object_id": aad_object_id, "user_key": user_key, "team_id": team_id,
                  "service_url": service_url, "locale": locale, "reference": dict(reference), "updated_at": now}
        async with self._engine.begin() as conn:
            stmt = _insert(conn, bot_conversations).values(id=ref_id, **values)
            await conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=values))
        return ref_id

    async def personal(self, *, aad_object_id: str = "", email: str = "", channel_id: str = "msteams",
                       conn: AsyncConnection | None = None) -> ConversationRef | None:
        """The newest 1:1 conversation with a person on a channel."""
        keys: list[Any] = []
        if aad_object_id:
            keys.append(bot_conversations.c.aad_object_id == aad_object_id)
        if email:
            keys.append(bot_conversations.c.user_key == email.lower())
        if not keys:
            return None
        query = (sa.select(bot_conversations)
                 .where(bot_conversations.c.channel_id == channel_id,
                        bot_conversations.c.conversation_type == "personal", sa.or_(*keys))
                 .order_by(bot_conversations.c.updated_at.desc()).limit(1))
        if conn is not None:
            row = (await conn.execute(query)).first()
        else:
            async with self._engine.connect() as own:
                row = (await own.execute(query)).first()
        return _ref(row) if row else None

    async def personal_many(self, aad_object_ids: Sequence[str],
                            channel_id: str = "msteams") -> dict[str, ConversationRef]:
        """The newest 1:1 conversation per AAD object id (one query for a sender's batch)."""
        wanted = sorted({a for a in aad_object_ids if a})
        if not wanted:
            return {}
        c = bot_conversations.c
        query = (sa.select(bot_conversations).where(c.channel_id == channel_id, c.conversation_type == "personal",
                                                    c.aad_object_id.in_(wanted)).order_by(c.updated_at))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {row.aad_object_id: _ref(row) for row in rows}  # ordered by time: the newest wins

    async def save_members(self, ref_id: str, aad_object_ids: Sequence[str]) -> None:
        """Replace the stored roster of a conversation (a group chat) with these people."""
        wanted = sorted({a for a in aad_object_ids if a})
        m = bot_conversation_members
        async with self._engine.begin() as conn:
            await conn.execute(sa.delete(m).where(m.c.conversation_ref_id == ref_id))
            if wanted:
                await conn.execute(m.insert(), [{"conversation_ref_id": ref_id, "aad_object_id": a} for a in wanted])

    async def members(self, ref_id: str) -> list[str]:
        m = bot_conversation_members
        async with self._engine.connect() as conn:
            rows = await conn.execute(sa.select(m.c.aad_object_id).where(m.c.conversation_ref_id == ref_id)
                                      .order_by(m.c.aad_object_id))
        return [str(a) for a in rows.scalars().all()]

    async def get(self, ref_id: str) -> ConversationRef | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(bot_conversations).where(bot_conversations.c.id == ref_id))).first()
        return _ref(row) if row else None


class InboundDedup:
    """Remembers handled inbound activity ids; the email channel resends a mail it got no 200 for."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def first_time(self, channel_id: str, activity_id: str, now: datetime) -> bool:
        async with self._engine.begin() as conn:
            stmt = _insert(conn, bot_processed_activities).values(channel_id=channel_id, activity_id=activity_id,
                                                                  at=now).on_conflict_do_nothing()
            result = await conn.execute(stmt)
        return bool(result.rowcount)

    async def forget(self, channel_id: str, activity_id: str) -> None:
        """Undo ``first_time`` when handling failed, so the channel's resend is processed."""
        async with self._engine.begin() as conn:
            await conn.execute(sa.delete(bot_processed_activities).where(
                bot_processed_activities.c.channel_id == channel_id,
                bot_processed_activities.c.activity_id == activity_id))

    async def prune(self, before: datetime) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(sa.delete(bot_processed_activities).where(
                bot_processed_activities.c.at < before))
        return int(result.rowcount or 0)


@dataclass(frozen=True)
class Notification:
    id: str
    participant_id: str
    kind: str
    payload: dict[str, Any]
    channel: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str
    activity_id: str


def _notification(row: Any) -> Notification:
    return Notification(row.id, row.participant_id, row.kind, dict(row.payload), row.channel, row.status,
                        row.attempts, row.next_attempt_at, row.last_error, row.activity_id)


@dataclass(frozen=True)
class Outcome:
    """What happened to one claimed notification; applied in batches by :meth:`Outbox.apply`."""

    id: str
    status: str
    channel: str = ""
    next_attempt_at: datetime | None = None
    error: str = ""
    activity_id: str = ""
    at: datetime | None = None


# (kind, recipient id, payload) of claimed rows -> the payloads to send, rendered from the current state.
PayloadRenderer = Callable[[list[tuple[str, str, Mapping[str, Any]]]], Awaitable[list[Mapping[str, Any]]]]


class Outbox:
    """Claim -> send -> record: a claimed row carries a lease; an expired lease means its sender died.

    ``renderers`` re-render claimed payloads from the current state of what they show, so a card goes out as
    things are when it is sent, not as they were when it was queued; when one fails, the queued payload is sent.
    """

    def __init__(self, engine: AsyncEngine, *, renderers: Sequence[PayloadRenderer] = ()) -> None:
        self._engine = engine
        self._renderers = tuple(renderers)

    async def claim(self, now: datetime, limit: int, lease: timedelta) -> list[Notification]:
        t = bot_notifications
        due = sa.or_(sa.and_(t.c.status == PENDING, t.c.next_attempt_at <= now),
                     sa.and_(t.c.status == SENDING, t.c.claimed_until < now))
        query = sa.select(t).where(due).order_by(t.c.next_attempt_at, t.c.id).limit(limit)
        async with self._engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = (await conn.execute(query)).all()
            if not rows:
                return []
            ids = [r.id for r in rows]
            await conn.execute(sa.update(t).where(t.c.id.in_(ids)).values(
                status=SENDING, claimed_until=now + lease, attempts=t.c.attempts + 1))
        claimed = [replace(_notification(r), attempts=r.attempts + 1, status=SENDING) for r in rows]
        for render in self._renderers:
            try:
                payloads = await render([(n.kind, n.participant_id, n.payload) for n in claimed])
                claimed = [replace(n, payload=dict(p)) for n, p in zip(claimed, payloads, strict=True)]
            except Exception:
                logger.exception("re-rendering %s claimed notification(s) failed; sending them as queued",
                                 len(claimed))
        return claimed

    async def apply(self, outcomes: Sequence[Outcome]) -> None:
        """Record many outcomes in one transaction (the sender's writer flushes every few ms)."""
        if not outcomes:
            return
        t = bot_notifications
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for o in outcomes:
            values: dict[str, Any] = {"status": o.status, "claimed_until": None}
            if o.channel:
                values["channel"] = o.channel
            if o.next_attempt_at is not None:
                values["next_attempt_at"] = o.next_attempt_at
            if o.error:
                values["last_error"] = o.error[:2000]
            if o.activity_id:
                values["activity_id"] = o.activity_id
            if o.status == SENT:
                values["sent_at"] = o.at
            if o.status == PENDING and o.channel:
                values["attempts"] = 0  # a fresh channel gets its own retry budget
            groups.setdefault(tuple(sorted(values)), []).append({"row_id": o.id, **values})
        async with self._engine.begin() as conn:
            for keys, params in groups.items():
                # One executemany per shape of outcome: a write batch costs a few statements, not one per row.
                stmt = sa.update(t).where(t.c.id == sa.bindparam("row_id"), t.c.status == SENDING).values(
                    {key: sa.bindparam(key) for key in keys})
                await conn.execute(stmt, params)

    async def release(self, ids: Sequence[str]) -> None:
        """Give back claimed rows that were never attempted (graceful stop)."""
        if not ids:
            return
        t = bot_notifications
        async with self._engine.begin() as conn:
            await conn.execute(sa.update(t).where(t.c.id.in_(list(ids)), t.c.status == SENDING).values(
                status=PENDING, claimed_until=None, attempts=sa.case((t.c.attempts > 0, t.c.attempts - 1),
                                                                     else_=0)))

    async def activity_id(self, notification_id: str) -> str:
        """The Teams activity id a sent notification got ('' when unsent or unknown)."""
        t = bot_notifications
        async with self._engine.connect() as conn:
            value = (await conn.execute(sa.select(t.c.activity_id).where(t.c.id == notification_id,
                                                                          t.c.status == SENT))).scalar()
        return str(value or "")

    async def next_due(self) -> datetime | None:
        t = bot_notifications
        async with self._engine.connect() as conn:
            value = (await conn.execute(sa.select(sa.func.min(t.c.next_attempt_at)).where(
                t.c.status == PENDING))).scalar()
            lease = (await conn.execute(sa.select(sa.func.min(t.c.claimed_until)).where(
                t.c.status == SENDING))).scalar()
        candidates: list[datetime] = [v for v in (value, lease) if v is not None]
        return min(candidates) if candidates else None

    async def all(self) -> list[Notification]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(sa.select(bot_notifications).order_by(bot_notifications.c.created_at,
                                                                              bot_notifications.c.id))).all()
        return [_notification(r) for r in rows]

    async def counts(self) -> dict[str, int]:
        t = bot_notifications
        async with self._engine.connect() as conn:
            rows = (await conn.execute(sa.select(t.c.status, sa.func.count()).group_by(t.c.status))).all()
        return {str(status): int(count) for status, count in rows}


@dataclass(frozen=True)
class MatchCard:
    """What a person's card about a match shows, its version (the order of changes) and its Teams message."""

    participant_id: str
    match_id: str
    state: CardState
    version: int
    activity_id: str


class MatchCards:
    """The state of each person's match card, changed only forward and by compare-and-set on ``version``.

    Every change (a button pressed, the sender editing the card) bumps the version. The sender reads the
    version before editing a card and again after: if it moved, someone answered meanwhile and the card is
    rendered again from the state now stored, so a late edit never leaves an older card on screen.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, participant_id: str, match_id: str) -> MatchCard | None:
        c = bot_match_cards.c
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(bot_match_cards).where(
                c.participant_id == participant_id, c.match_id == match_id))).first()
        return _match_card(row) if row else None

    async def advance(self, participant_id: str, match_id: str, wanted: CardState, now: datetime, *,
                      activity_id: str = "") -> MatchCard:
        """Move the card to ``wanted`` unless it already shows a later state; returns what it shows now."""
        c = bot_match_cards.c
        for _attempt in range(20):  # each miss means another writer moved first: read again
            current = await self.get(participant_id, match_id)
            if current is None:
                async with self._engine.begin() as conn:
                    result = await conn.execute(_insert(conn, bot_match_cards).values(
                        participant_id=participant_id, match_id=match_id, state=wanted.value, version=1,
                        activity_id=activity_id, updated_at=now).on_conflict_do_nothing())
                if result.rowcount:
                    return MatchCard(participant_id, match_id, wanted, 1, activity_id)
                continue
            state = card_state_after(current.state, wanted)
            values: dict[str, Any] = {}
            if state is not current.state:
                values["state"] = state.value
            if activity_id and not current.activity_id:
                values["activity_id"] = activity_id
            if not values:
                return current
            async with self._engine.begin() as conn:
                result = await conn.execute(sa.update(bot_match_cards).where(
                    c.participant_id == participant_id, c.match_id == match_id, c.version == current.version)
                    .values(version=current.version + 1, updated_at=now, **values))
            if result.rowcount:
                return MatchCard(participant_id, match_id, state, current.version + 1,
                                 values.get("activity_id", current.activity_id))
        raise RuntimeError(f"card {participant_id}/{match_id} kept changing")

    async def bump(self, card: MatchCard, now: datetime) -> MatchCard | None:
        """Take the next version for an edit of ``card``; None when it changed since it was read."""
        c = bot_match_cards.c
        async with self._engine.begin() as conn:
            result = await conn.execute(sa.update(bot_match_cards).where(
                c.participant_id == card.participant_id, c.match_id == card.match_id, c.version == card.version)
                .values(version=card.version + 1, updated_at=now))
        return replace(card, version=card.version + 1) if result.rowcount else None


def _match_card(row: Any) -> MatchCard:
    return MatchCard(row.participant_id, row.match_id, CardState(row.state), int(row.version), row.activity_id)


class Welcomes:
    """One welcome per person and conversation, remembered in the database (restarts, several instances)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def first_time(self, conversation_id: str, user_key: str, now: datetime) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(_insert(conn, bot_welcomes).values(
                conversation_id=conversation_id[:512], user_key=user_key[:254].lower(), at=now)
                .on_conflict_do_nothing())
        return bool(result.rowcount)
