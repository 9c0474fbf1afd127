"""Domain events -> notices in the notification outbox, inside the transaction that caused them.

The in-transaction handlers run before the use case commits, so a round that is committed always has its
intro notifications and a rolled-back round has none. Notice ids are stable per (event key, recipient,
kind), so a replayed event adds nothing. After commit, the :class:`Waker` nudges whoever delivers the outbox
(the bot's sender) so a notice goes out at once rather than on the next poll.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from teams_app.domain import events as ev
from teams_app.domain.model import Match, Meeting, MeetingStatus, Participant, Program, Round, stable_id
from teams_app.domain.notifications import Channel, Notice, NotificationKind, notice_id
from teams_app.domain.reasons import reason_json
from teams_app.service.messagebus import MessageBus
from teams_app.service.ports import Clock, UnitOfWork, UnitOfWorkFactory


class Waker:
    """Callbacks run after a commit that queued notices (the sender's wake-up); owned by the application."""

    def __init__(self) -> None:
        self.targets: list[Callable[[], None]] = []

    def attach(self, target: Callable[[], None]) -> None:
        self.targets.append(target)

    def __call__(self) -> None:
        for target in self.targets:
            target()


def match_payload(program: Program, round_: Round, match: Match, people: dict[str, Participant],
                  meeting: Meeting | None, participant_id: str) -> dict[str, Any]:
    """What one member needs to know about a match (rendered as a card, or as email text)."""
    partners = [{"name": people[m.participant_id].display_name, "email": people[m.participant_id].email,
                 "role": m.role.value} for m in match.members
                if m.participant_id != participant_id and m.participant_id in people]
    payload: dict[str, Any] = {
        "match_id": match.id, "program_id": program.id, "program": program.name, "round": round_.number,
        "role": match.role_of(participant_id).value, "partners": partners,
        "reasons": [reason_json(r) for r in match.reasons],  # JSON: the outbox stores the payload
        "prompts": program.framework.prompts()[:4], "meeting": None,
    }
    reader = people.get(participant_id)
    if reader is not None:  # times are shown in the reader's zone and locale
        payload["reader"] = {"time_zone": reader.profile.time_zone, "locale": reader.locale}
    if program.kind.is_group:
        payload.update(circle_payload(program, round_, match, people))
        if payload.get("next_facilitator") and payload["next_facilitator"]["id"] == participant_id:
            payload["next_facilitator"] = {**payload["next_facilitator"], "you": True}
    if meeting is not None and meeting.status is MeetingStatus.SCHEDULED and meeting.start:
        payload["meeting"] = {"start": meeting.start.isoformat(),
                              "end": meeting.end.isoformat() if meeting.end else None,
                              "join_url": meeting.join_url, "booked": meeting.booked}
    return payload


def circle_payload(program: Program, round_: Round, match: Match, people: dict[str, Participant]) -> dict[str, Any]:
    """A circle's facilitator this session, who is next, and where the session falls in the term."""
    def who(pid: str | None) -> dict[str, str] | None:
        if pid is None:
            return None
        person = people.get(pid)
        return {"id": pid, "name": person.display_name if person else ""}

    out: dict[str, Any] = {"facilitator": who(match.facilitator_id)}
    if round_.session >= 1:
        out.update(session=round_.session, sessions_in_term=program.sessions_per_term,
                   next_facilitator=who(match.next_facilitator_id(round_.session, program.sessions_per_term)))
    return out


# Kinds whose payload is a member's view of a match: rendered again from the current match when sent.
MATCH_KINDS = frozenset({NotificationKind.INTRO.value, NotificationKind.MEETING_UPDATE.value,
                         NotificationKind.CHECKIN.value, NotificationKind.CHECKIN_REMINDER.value})


class MatchNoticeRenderer:
    """Renders match notices from the state of the match when they are sent (names, roles, the meeting).

    One unit of work and a handful of queries per batch, whatever its size (200 intros: about 80 ms on
    SQLite). Notices whose match or recipient is gone keep their queued payload, and so does a meeting update
    whose meeting is no longer scheduled.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow = uow_factory

    async def render(self, notices: list[tuple[str, str, Mapping[str, Any]]]) -> list[Mapping[str, Any]]:
        wanted = sorted({str(p.get("match_id")) for kind, _, p in notices
                         if kind in MATCH_KINDS and p.get("match_id")})
        if not wanted:
            return [payload for _, _, payload in notices]
        state: dict[str, tuple[Program, Round, Match, dict[str, Participant], Meeting | None]] = {}
        async with self._uow() as uow:
            matches = await uow.matches.get_many(wanted)
            meetings = await uow.meetings.get_many(list(matches))
            people = {p.id: p for p in await uow.participants.get_many(
                [pid for match in matches.values() for pid in match.participant_ids])}
            programs = {pid: await uow.programs.get(pid) for pid in {m.program_id for m in matches.values()}}
            rounds = {rid: await uow.rounds.get(rid) for rid in {m.round_id for m in matches.values()}}
        for match_id, match in matches.items():
            program, round_ = programs.get(match.program_id), rounds.get(match.round_id)
            if program is not None and round_ is not None:
                members = {pid: people[pid] for pid in match.participant_ids if pid in people}
                state[match_id] = (program, round_, match, members, meetings.get(match_id))
        out: list[Mapping[str, Any]] = []
        for kind, recipient, payload in notices:
            found = state.get(str(payload.get("match_id") or "")) if kind in MATCH_KINDS else None
            if found is None or recipient not in found[3]:
                out.append(payload)
                continue
            fresh = match_payload(*found, recipient)
            if kind == NotificationKind.MEETING_UPDATE and fresh["meeting"] is None:
                out.append(payload)
                continue
            out.append({**payload, **fresh})
        return out


# Events whose handlers queue notices: the sender is woken after they commit.
NOTIFYING_EVENTS: tuple[type[ev.Event], ...] = (
    ev.MatchCreated, ev.MeetingScheduled, ev.ParticipantUnmatched, ev.RoundStarted, ev.MeetingRescheduleRequested,
    ev.MeetingCancelled)


class NotificationPlanner:
    """Registers the bus handlers that turn coaching events into notices."""

    def __init__(self, wake: Callable[[], None] | None = None) -> None:
        self._wake = wake

    def register(self, bus: MessageBus) -> None:
        bus.in_transaction(ev.MatchCreated, self.on_match_created)
        bus.in_transaction(ev.MeetingScheduled, self.on_meeting_scheduled)
        bus.in_transaction(ev.ParticipantUnmatched, self.on_unmatched)
        bus.in_transaction(ev.RoundStarted, self.on_round_started)
        bus.in_transaction(ev.ParticipantErased, self.on_erased)
        bus.in_transaction(ev.MeetingRescheduleRequested, self.on_reschedule_requested)
        bus.in_transaction(ev.MeetingCancelled, self.on_cancelled)
        for event_type in NOTIFYING_EVENTS:
            bus.after_commit(event_type, self._after_commit)

    async def _after_commit(self, _event: ev.Event) -> None:
        if self._wake is not None:
            self._wake()

    async def _match_notices(self, uow: UnitOfWork, event_key: str, match_id: str,
                             kind: NotificationKind) -> list[Notice]:
        match = await uow.matches.get(match_id)
        if match is None:
            return []
        program = await uow.programs.get(match.program_id)
        round_ = await uow.rounds.get(match.round_id)
        if program is None or round_ is None:
            return []
        people = {p.id: p for p in await uow.participants.get_many(list(match.participant_ids))}
        meeting = await uow.meetings.get(match.id)
        return [Notice.to(people[pid], event_key, kind, match_payload(program, round_, match, people, meeting, pid))
                for pid in match.participant_ids if pid in people]

    @staticmethod
    async def _channel_notices(uow: UnitOfWork, event_key: str, kind: NotificationKind, payload: dict[str, Any],
                               ref_ids: list[str]) -> list[Notice]:
        # For channel kinds the recipient is the conversation reference id of the channel or group chat.
        return [Notice(notice_id(event_key, ref_id, kind), ref_id, kind, payload, Channel.TEAMS) for ref_id in ref_ids]

    @staticmethod
    async def _announcement_targets(uow: UnitOfWork, program: Program) -> list[str]:
        """Where a program's rounds are announced: the channel its admin named; a circle program without one
        is announced nowhere (its circles are private); other programs in every team channel, as before."""
        if program.announcement_channel:
            return await uow.notifications.named_channel(program.announcement_channel, program.tenant_id)
        if program.kind.is_group:
            return []
        return await uow.notifications.channel_targets(program.tenant_id)

    async def on_match_created(self, event: ev.MatchCreated, uow: UnitOfWork) -> None:
        notices = await self._match_notices(uow, event.key, event.match_id, NotificationKind.INTRO)
        program = await uow.programs.get(event.program_id)
        match = await uow.matches.get(event.match_id)
        round_ = await uow.rounds.get(match.round_id) if match is not None else None
        if program is not None and match is not None and round_ is not None and program.kind.is_group:
            # A circle's post, with its members' names, goes only where every reader is a member: a group chat
            # with the bot whose roster is exactly the circle. Never to a team channel.
            people = {p.id: p for p in await uow.participants.get_many(list(match.participant_ids))}
            aad_ids = [p.aad_object_id for p in people.values()]
            if len(people) == len(match.participant_ids) and all(aad_ids):
                chats = await uow.notifications.group_chats_of(aad_ids, program.tenant_id)
                if chats:
                    payload = {"program": program.name, "match_id": match.id, "round": round_.number,
                               "members": sorted(p.display_name for p in people.values()),
                               **circle_payload(program, round_, match, people)}
                    notices += await self._channel_notices(uow, event.key, NotificationKind.CIRCLE_THREAD, payload,
                                                           chats)
        await uow.notifications.add(notices, event.at)

    async def on_erased(self, event: ev.ParticipantErased, uow: UnitOfWork) -> None:
        """Erasure: the outbox's copies of a person's data go with them (run before the person row is deleted)."""
        person = await uow.participants.get(event.participant_id)
        if person is not None:
            await uow.notifications.forget(person)

    async def on_round_started(self, event: ev.RoundStarted, uow: UnitOfWork) -> None:
        program = await uow.programs.get(event.program_id)
        if program is None:
            return
        targets = await self._announcement_targets(uow, program)
        if not targets:
            return
        matches = await uow.matches.for_round(event.round_id)
        payload: dict[str, Any] = {"program": program.name, "round": event.number, "matches": len(matches)}
        round_ = await uow.rounds.get(event.round_id)
        if program.kind.is_group and round_ is not None and round_.session >= 1:
            payload.update(session=round_.session, sessions_in_term=program.sessions_per_term)  # counts, no names
        await uow.notifications.add(await self._channel_notices(
            uow, event.key, NotificationKind.ANNOUNCEMENT, payload, targets), event.at)

    async def on_meeting_scheduled(self, event: ev.MeetingScheduled, uow: UnitOfWork) -> None:
        await uow.notifications.add(await self._match_notices(uow, event.key, event.match_id,
                                                              NotificationKind.MEETING_UPDATE), event.at)

    async def on_unmatched(self, event: ev.ParticipantUnmatched, uow: UnitOfWork) -> None:
        person = await uow.participants.get(event.participant_id)
        program = await uow.programs.get(event.program_id)
        if person is None or program is None:
            return
        payload = {"program_id": program.id, "program": program.name, "reason": event.reason}
        await uow.notifications.add([Notice.to(person, event.key, NotificationKind.UNMATCHED, payload)], event.at)

    async def _tell_partners(self, uow: UnitOfWork, event_key: str, match_id: str, actor_id: str,
                             kind: NotificationKind, at: datetime) -> None:
        match = await uow.matches.get(match_id)
        if match is None:
            return
        program = await uow.programs.get(match.program_id)
        people = {p.id: p for p in await uow.participants.get_many(list(match.participant_ids))}
        actor = people.get(actor_id)
        payload = {"match_id": match.id, "program": program.name if program else "",
                   "name": actor.display_name if actor else ""}
        await uow.notifications.add([Notice.to(person, event_key, kind, payload)
                                     for pid, person in people.items() if pid != actor_id], at)

    async def on_reschedule_requested(self, event: ev.MeetingRescheduleRequested, uow: UnitOfWork) -> None:
        await self._tell_partners(uow, event.key, event.match_id, event.participant_id,
                                  NotificationKind.PARTNER_RESCHEDULE, event.at)

    async def on_cancelled(self, event: ev.MeetingCancelled, uow: UnitOfWork) -> None:
        await self._tell_partners(uow, event.key, event.match_id, event.participant_id,
                                  NotificationKind.PARTNER_CANCEL, event.at)


class OutboxNotifier:
    """The ``Notifier`` port for ad hoc messages: one notice in its own transaction, through the same outbox.

    ``payload`` may carry ``key`` (a stable event key: the same key to the same person is queued once; without
    it the content itself is the key), ``subject`` and ``text`` (the email and Teams text), and ``card``.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, wake: Callable[[], None] | None = None) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._wake = wake

    async def notify(self, participant: Participant, kind: str, payload: dict[str, object]) -> None:
        key = str(payload.get("key") or stable_id("content", kind, json.dumps(payload, sort_keys=True, default=str)))
        async with self._uow() as uow:
            added = await uow.notifications.add([Notice.to(participant, key, _kind(kind), payload)],
                                                self._clock.now())
            await uow.commit()
        if added and self._wake is not None:
            self._wake()


def _kind(kind: str) -> NotificationKind:
    """A known kind, else a free-text message (rendered from the payload's card, subject and text)."""
    try:
        return NotificationKind(kind)
    except ValueError:
        return NotificationKind.MESSAGE
