"""Check-ins: recording one, and asking members of open rounds to check in (then reminding them once).

Who is due what is a domain rule (:mod:`teams_app.domain.notifications`); this module reads the state, asks
the rule, and queues the notices in one transaction. Notice ids are stable, so running the scan often (or on
several servers) queues nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from teams_app.domain import events as ev
from teams_app.domain.errors import InvalidInput, InvalidTransition, NotFound
from teams_app.domain.model import CheckIn, RoundStatus
from teams_app.domain.notifications import (
    Notice,
    NotificationKind,
    checkin_due_at,
    checkin_event_key,
    checkin_notice_due,
    notice_id,
)
from teams_app.service.base import UseCases
from teams_app.service.notifications import match_payload
from teams_app.service.ports import Clock, UnitOfWorkFactory

logger = logging.getLogger(__name__)


class CheckIns(UseCases):
    async def record_check_in(self, match_id: str, participant_id: str, *, met: bool,
                              usefulness: int | str | None, learned: str = "", next_step: str = "") -> CheckIn:
        now = self._clock.now()
        check_in = CheckIn.create(match_id, participant_id, met=met, usefulness=usefulness, learned=learned,
                                  next_step=next_step, at=now)
        async with self._uow() as uow:
            match = await uow.matches.get(match_id)
            if match is None:
                raise NotFound("match", match_id)
            if participant_id not in match.participant_ids:
                raise InvalidInput("match", "you are not part of this match")
            if await uow.check_ins.get(match_id, participant_id) is not None:
                raise InvalidTransition("you have already checked in for this match")
            await uow.check_ins.add(check_in)
            uow.events.append(ev.CheckInRecorded(f"check-in/{match_id}/{participant_id}", now, match.program_id,
                                                 match_id, participant_id, met))
            await self._bus.commit(uow)
        return check_in


class CheckInPrompts:
    """One check-in card per person per match after their meeting (or ``ask_after`` into the round), then
    one reminder ``remind_after`` later while there is still no check-in."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, *, ask_after: timedelta = timedelta(days=5),
                 remind_after: timedelta = timedelta(days=2), wake: Callable[[], None] | None = None) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._ask_after = ask_after
        self._remind_after = remind_after
        self._wake = wake

    async def scan(self) -> int:
        """Queue the check-in cards and reminders that are due; returns how many were added."""
        now = self._clock.now()
        added = 0
        async with self._uow() as uow:
            for program in await uow.programs.all():
                round_ = await uow.rounds.latest(program.id)
                if round_ is None or round_.status is not RoundStatus.OPEN:
                    continue
                # The round's meetings and check-ins in two queries: this scan runs every few minutes.
                meetings = await uow.meetings.for_round(round_.id)
                done = {(c.match_id, c.participant_id) for c in await uow.check_ins.for_round(round_.id)}
                for match in await uow.matches.for_round(round_.id):
                    meeting = meetings.get(match.id)
                    due_at = checkin_due_at(round_, meeting, self._ask_after)
                    if now < due_at:
                        continue
                    missing = [pid for pid in match.participant_ids if (match.id, pid) not in done]
                    if not missing:
                        continue
                    people = {p.id: p for p in await uow.participants.get_many(list(match.participant_ids))}
                    asked_key = checkin_event_key(NotificationKind.CHECKIN, match.id)
                    asked = await uow.notifications.queued_at(
                        [notice_id(asked_key, pid, NotificationKind.CHECKIN) for pid in missing])
                    notices = []
                    for pid in missing:
                        if pid not in people:
                            continue
                        asked_at = asked.get(notice_id(asked_key, pid, NotificationKind.CHECKIN))
                        kind = checkin_notice_due(now, due_at, asked_at, self._remind_after)
                        if kind is None:
                            continue
                        payload = match_payload(program, round_, match, people, meeting, pid)
                        notices.append(Notice.to(people[pid], checkin_event_key(kind, match.id), kind, payload))
                    added += await uow.notifications.add(notices, now)
            await uow.commit()
        if added and self._wake is not None:
            self._wake()
        if added:
            logger.info("queued %s check-in card(s) and reminder(s)", added)
        return added
