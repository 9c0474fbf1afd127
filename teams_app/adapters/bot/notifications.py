"""Domain events -> notification outbox rows (same transaction), and the check-in reminder scan.

The in-transaction handlers run before the use case commits, so a round that is committed always has its
intro notifications, and a rolled-back round has none. Row ids are stable per (event key, person, kind), so
a replayed event adds nothing. No botbuilder here: payloads are plain JSON rendered later by the sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from teams_app.adapters.bot.store import EMAIL, TEAMS, enqueue, notification_id
from teams_app.adapters.db.bot_tables import bot_conversations, bot_notifications
from teams_app.domain import events as ev
from teams_app.domain.model import (
    Match,
    Meeting,
    MeetingStatus,
    Participant,
    Program,
    Round,
    RoundStatus,
    stable_id,
)
from teams_app.service.messagebus import MessageBus
from teams_app.service.ports import Clock, UnitOfWork, UnitOfWorkFactory

logger = logging.getLogger(__name__)


def _connection(uow: UnitOfWork) -> AsyncConnection:
    conn = getattr(uow, "connection", None)
    if not isinstance(conn, AsyncConnection):
        raise TypeError("the notification outbox needs a SQL unit of work (with .connection)")
    return conn


def channel_for(person: Participant) -> str:
    return TEAMS if person.teams_reachable else EMAIL


def match_payload(program: Program, round_: Round, match: Match, people: dict[str, Participant],
                  meeting: Meeting | None, participant_id: str) -> dict[str, Any]:
    """What one member needs to know about a match (rendered as a card, or as email text)."""
    partners = [{"name": people[m.participant_id].display_name, "email": people[m.participant_id].email,
                 "role": m.role.value} for m in match.members
                if m.participant_id != participant_id and m.participant_id in people]
    payload: dict[str, Any] = {
        "match_id": match.id, "program_id": program.id, "program": program.name, "round": round_.number,
        "role": match.role_of(participant_id).value, "partners": partners, "reasons": list(match.reasons),
        "prompts": program.framework.prompts()[:4], "meeting": None,
    }
    if meeting is not None and meeting.status is MeetingStatus.SCHEDULED and meeting.start:
        payload["meeting"] = {"start": meeting.start.isoformat(),
                              "end": meeting.end.isoformat() if meeting.end else None,
                              "join_url": meeting.join_url}
    return payload


class NotificationPlanner:
    """Registers the bus handlers that turn domain events into outbox rows."""

    def __init__(self, wake: Callable[[], None] | None = None) -> None:
        self._wake = wake

    def register(self, bus: MessageBus) -> None:
        bus.in_transaction(ev.MatchCreated, self.on_match_created)
        bus.in_transaction(ev.MeetingScheduled, self.on_meeting_scheduled)
        bus.in_transaction(ev.ParticipantUnmatched, self.on_unmatched)
        bus.in_transaction(ev.RoundStarted, self.on_round_started)
        bus.in_transaction(ev.ParticipantErased, self.on_erased)
        for event_type in (ev.MatchCreated, ev.MeetingScheduled, ev.ParticipantUnmatched, ev.RoundStarted):
            bus.after_commit(event_type, self._after_commit)

    async def _after_commit(self, _event: ev.Event) -> None:
        if self._wake is not None:
            self._wake()

    async def _match_rows(self, uow: UnitOfWork, event_key: str, match_id: str,
                          kind: str) -> list[tuple[str, str, str, dict[str, Any], str]]:
        match = await uow.matches.get(match_id)
        if match is None:
            return []
        program = await uow.programs.get(match.program_id)
        round_ = await uow.rounds.get(match.round_id)
        if program is None or round_ is None:
            return []
        people = {p.id: p for p in await uow.participants.get_many(list(match.participant_ids))}
        meeting = await uow.meetings.get(match.id)
        rows = []
        for pid in match.participant_ids:
            person = people.get(pid)
            if person is None:
                continue
            rows.append((notification_id(event_key, pid, kind), pid, kind,
                         match_payload(program, round_, match, people, meeting, pid), channel_for(person)))
        return rows

    async def on_match_created(self, event: ev.MatchCreated, uow: UnitOfWork) -> None:
        rows = await self._match_rows(uow, event.key, event.match_id, "intro")
        program = await uow.programs.get(event.program_id)
        match = await uow.matches.get(event.match_id)
        if program is not None and match is not None and program.kind.is_group:
            # A learning circle gets its own thread in every team channel the bot is installed in.
            people = await uow.participants.get_many(list(match.participant_ids))
            payload = {"program": program.name, "match_id": match.id,
                       "members": sorted(p.display_name for p in people)}
            rows += await self._channel_rows(uow, event.key, "circle_thread", payload, program.tenant_id)
        await enqueue(_connection(uow), rows, event.at)

    async def _channel_rows(self, uow: UnitOfWork, event_key: str, kind: str, payload: dict[str, Any],
                            tenant_id: str) -> list[tuple[str, str, str, dict[str, Any], str]]:
        query = sa.select(bot_conversations.c.id).where(bot_conversations.c.conversation_type == "channel")
        if tenant_id:
            query = query.where(bot_conversations.c.tenant_id == tenant_id)
        channel_ids = (await _connection(uow).execute(query)).scalars().all()
        # For channel kinds the outbox's participant_id column holds the conversation reference id.
        return [(notification_id(event_key, ref_id, kind), ref_id, kind, payload, TEAMS) for ref_id in channel_ids]

    async def on_erased(self, event: ev.ParticipantErased, uow: UnitOfWork) -> None:
        """Erasure: the bot's copies of a person's data go with them (run before the person row is deleted)."""
        person = await uow.participants.get(event.participant_id)
        if person is None:
            return
        conn = _connection(uow)
        c = bot_conversations.c
        keys = [c.user_key == person.email.lower()]
        if person.aad_object_id:
            keys.append(c.aad_object_id == person.aad_object_id)
        await conn.execute(sa.delete(bot_conversations).where(c.conversation_type == "personal", sa.or_(*keys)))
        await conn.execute(sa.delete(bot_notifications).where(
            bot_notifications.c.participant_id == event.participant_id))

    async def on_round_started(self, event: ev.RoundStarted, uow: UnitOfWork) -> None:
        program = await uow.programs.get(event.program_id)
        if program is None:
            return
        matches = await uow.matches.for_round(event.round_id)
        payload = {"program": program.name, "round": event.number, "matches": len(matches)}
        await enqueue(_connection(uow), await self._channel_rows(uow, event.key, "announcement", payload,
                                                                 program.tenant_id), event.at)

    async def on_meeting_scheduled(self, event: ev.MeetingScheduled, uow: UnitOfWork) -> None:
        rows = await self._match_rows(uow, event.key, event.match_id, "meeting_update")
        await enqueue(_connection(uow), rows, event.at)

    async def on_unmatched(self, event: ev.ParticipantUnmatched, uow: UnitOfWork) -> None:
        person = await uow.participants.get(event.participant_id)
        program = await uow.programs.get(event.program_id)
        if person is None or program is None:
            return
        payload = {"program_id": program.id, "program": program.name, "reason": event.reason}
        await enqueue(_connection(uow), [(notification_id(event.key, person.id, "unmatched"), person.id,
                                          "unmatched", payload, channel_for(person))], event.at)


class CheckInReminders:
    """Asks members of open rounds to check in after their meeting (or N days into the round), then reminds.

    One 'checkin' card per person per match, then one 'checkin_reminder' ``remind_after`` later if there is
    still no check-in. Ids are stable, so running the scan often (or on several servers) sends nothing twice.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, *, ask_after: timedelta = timedelta(days=5),
                 remind_after: timedelta = timedelta(days=2), wake: Callable[[], None] | None = None) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._ask_after = ask_after
        self._remind_after = remind_after
        self._wake = wake

    def _due(self, round_: Round, meeting: Meeting | None) -> datetime:
        if meeting is not None and meeting.status is MeetingStatus.SCHEDULED and meeting.end:
            return meeting.end
        return round_.started_at + self._ask_after

    async def scan(self) -> int:
        """Queue the check-in cards and reminders that are due; returns how many rows were added."""
        now = self._clock.now()
        added = 0
        async with self._uow() as uow:
            conn = _connection(uow)
            for program in await uow.programs.all():
                round_ = await uow.rounds.latest(program.id)
                if round_ is None or round_.status is not RoundStatus.OPEN:
                    continue
                # The round's meetings and check-ins in two queries: this scan runs every few minutes.
                meetings = await uow.meetings.for_round(round_.id)
                done = {(c.match_id, c.participant_id) for c in await uow.check_ins.for_round(round_.id)}
                for match in await uow.matches.for_round(round_.id):
                    meeting = meetings.get(match.id)
                    due = self._due(round_, meeting)
                    if now < due:
                        continue
                    missing = [pid for pid in match.participant_ids if (match.id, pid) not in done]
                    if not missing:
                        continue
                    people = {p.id: p for p in await uow.participants.get_many(list(match.participant_ids))}
                    rows = []
                    for pid in missing:
                        if pid not in people:
                            continue
                        asked_id = notification_id(f"checkin/{match.id}", pid, "checkin")
                        asked_at = (await conn.execute(sa.select(bot_notifications.c.created_at).where(
                            bot_notifications.c.id == asked_id))).scalar()
                        if asked_at is None:
                            kind, nid = "checkin", asked_id
                        elif now >= asked_at + self._remind_after:
                            kind = "checkin_reminder"
                            nid = notification_id(f"checkin_reminder/{match.id}", pid, kind)
                        else:
                            continue
                        payload = match_payload(program, round_, match, people, meeting, pid)
                        rows.append((nid, pid, kind, payload, channel_for(people[pid])))
                    added += await enqueue(conn, rows, now)
            await uow.commit()
        if added and self._wake is not None:
            self._wake()
        return added

    def worker(self, interval_s: float) -> Callable[[asyncio.Event], Awaitable[None]]:
        async def run(stop: asyncio.Event) -> None:
            while not stop.is_set():
                try:
                    added = await self.scan()
                    if added:
                        logger.info("queued %s check-in card(s) and reminder(s)", added)
                except Exception:
                    logger.exception("check-in reminder scan failed; retrying next tick")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=interval_s)

        return run


class PartnerNotices:
    """Tells the other members of a match when someone asks to reschedule or can't make it (via the outbox)."""

    KINDS = ("partner_reschedule", "partner_cancel")

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, wake: Callable[[], None] | None = None) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._wake = wake

    async def tell(self, match_id: str, actor_id: str, kind: str) -> int:
        """Queue one message per other member (asking twice queues nothing new); returns how many are told."""
        if kind not in self.KINDS:
            raise ValueError(f"unknown partner notice {kind!r}")
        now = self._clock.now()
        async with self._uow() as uow:
            match = await uow.matches.get(match_id)
            if match is None or actor_id not in match.participant_ids:
                return 0
            program = await uow.programs.get(match.program_id)
            people = {p.id: p for p in await uow.participants.get_many(list(match.participant_ids))}
            actor = people.get(actor_id)
            payload = {"match_id": match.id, "program": program.name if program else "",
                       "name": actor.display_name if actor else ""}
            rows = [(notification_id(f"{kind}/{match.id}/{actor_id}", pid, kind), pid, kind, payload,
                     channel_for(person)) for pid, person in people.items() if pid != actor_id]
            added = await enqueue(_connection(uow), rows, now)
            await uow.commit()
        if added and self._wake is not None:
            self._wake()
        return len(rows)


class OutboxNotifier:
    """The service's ``Notifier`` port: any adapter can tell a person something through the same outbox.

    ``payload`` may carry ``key`` (a stable event key: the same key to the same person is sent once; without it
    the content itself is the key), ``subject`` and ``text`` (the email and Teams text), and ``card`` (an
    Adaptive Card, e.g. from the assessment cards, sent as the Teams message).
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, wake: Callable[[], None] | None = None) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._wake = wake

    async def notify(self, participant: Participant, kind: str, payload: dict[str, object]) -> None:
        key = str(payload.get("key") or stable_id("content", kind, json.dumps(payload, sort_keys=True, default=str)))
        async with self._uow() as uow:
            added = await enqueue(_connection(uow), [(notification_id(key, participant.id, kind), participant.id,
                                                      kind, payload, channel_for(participant))], self._clock.now())
            await uow.commit()
        if added and self._wake is not None:
            self._wake()
