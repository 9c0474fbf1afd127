"""A round completes when its period ends: its cadence after it started, or when an admin closes it.

Before this, a round only completed when the next one started, so the last round of a program never did
and LMS transcripts (which move on ``completed``) never showed it. Kept apart from the round use cases so
the area regrouping can move it as one piece.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from teams_app.domain import events as ev
from teams_app.domain.model import Program, Round, RoundStatus
from teams_app.service.messagebus import MessageBus
from teams_app.service.ports import Clock, UnitOfWork, UnitOfWorkFactory

logger = logging.getLogger(__name__)


def period_end(program: Program, round_: Round) -> datetime:
    """When a round's period ends: one cadence after it started."""
    return program.cadence.next_after(round_.started_at)


async def _complete(uow: UnitOfWork, program: Program, round_: Round, at: datetime) -> None:
    await uow.rounds.update(replace(round_, status=RoundStatus.COMPLETED))
    # The same key as completing a round by starting the next one: either way it completes once.
    uow.events.append(ev.RoundCompleted(f"round-completed/{round_.id}", at, program.id, round_.id))


async def close_ended_rounds(uow_factory: UnitOfWorkFactory, bus: MessageBus, clock: Clock) -> list[str]:
    """Complete every open round whose period has ended (the last round of a program included); returns
    the ids of the rounds completed. The completion is dated at the period's end."""
    now = clock.now()
    closed: list[str] = []
    async with uow_factory() as uow:
        for program in await uow.programs.all():
            for round_ in await uow.rounds.for_program(program.id):
                ends = period_end(program, round_)
                if round_.status is RoundStatus.OPEN and ends <= now:
                    await _complete(uow, program, round_, ends)
                    closed.append(round_.id)
        await bus.commit(uow)
    if closed:
        logger.info("completed %s round(s) whose period ended", len(closed))
    return closed


async def close_round(uow_factory: UnitOfWorkFactory, bus: MessageBus, clock: Clock, program_id: str) -> str | None:
    """An admin closes a program's open round now; returns its id, or None when no round is open."""
    now = clock.now()
    async with uow_factory() as uow:
        program = await uow.programs.get(program_id)
        round_ = await uow.rounds.latest(program_id) if program is not None else None
        if program is None or round_ is None or round_.status is not RoundStatus.OPEN:
            return None
        await _complete(uow, program, round_, now)
        await bus.commit(uow)
    return round_.id


__all__ = ["close_ended_rounds", "close_round", "period_end"]
