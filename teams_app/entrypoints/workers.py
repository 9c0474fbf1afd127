"""Background workers that run inside ``peercoach serve``: each loops until its stop event is set."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from teams_app.domain.model import Meeting, MeetingStatus
from teams_app.service.ports import Calendar
from teams_app.service.use_cases import CoachingService

logger = logging.getLogger(__name__)


def scheduler_worker(service: CoachingService, interval_s: float) -> Callable[[asyncio.Event], Awaitable[None]]:
    """Start due rounds per program cadence. Several servers may run it: the claim is row-locked."""

    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                for result in await service.run_due_rounds():
                    logger.info("started round %s of %s: %s matches, %s unmatched", result.round.number,
                                result.program.name, len(result.matches), len(result.unmatched))
            except Exception:
                # A failed tick (database restarting, a constraint race) is retried on the next tick.
                logger.exception("scheduler tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)

    return run


async def book_open_matches(service: CoachingService, calendar: Calendar) -> int:
    """Book every unbooked match of the open rounds; returns how many meetings were recorded.

    Safe to repeat: the calendar derives a transaction id from the match, so a retry after a crash between
    booking and recording finds the same event instead of creating a second one.
    """
    pending = await service.matches_to_book()
    if not pending:
        return 0

    async def book_one(item: tuple) -> Meeting:  # type: ignore[type-arg]
        program, round_, match, people = item
        start = round_.started_at.date()
        end = program.cadence.next_after(round_.started_at).date()
        try:
            return await calendar.book(program, match, people, start, end)
        except Exception as exc:  # one failure must not stop the others; the admin sees it in `status`
            logger.exception("booking match %s failed", match.id)
            return Meeting(match.id, MeetingStatus.FAILED, detail=f"booking failed: {type(exc).__name__}")

    # Concurrent calls for one program and window are combined by the Graph calendar into batched requests.
    meetings = await asyncio.gather(*(book_one(item) for item in pending))
    for meeting in meetings:
        await service.record_meeting(meeting)
    return len(meetings)


def booking_worker(service: CoachingService, calendar: Calendar,
                   interval_s: float) -> Callable[[asyncio.Event], Awaitable[None]]:
    """Book meetings for new matches (Graph, or an ICS proposal when Graph is not configured)."""

    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                booked = await book_open_matches(service, calendar)
                if booked:
                    logger.info("recorded %s meeting(s)", booked)
            except Exception:
                logger.exception("booking tick failed")  # retried on the next tick
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)

    return run


async def run_workers(workers: dict[str, Callable[[asyncio.Event], Awaitable[None]]],
                      stop: asyncio.Event) -> None:
    """Run workers until ``stop``; a crashed worker is logged and restarted after a pause."""

    async def supervise(name: str, worker: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        while not stop.is_set():
            try:
                await worker(stop)
            except Exception:
                logger.exception("worker %s crashed; restarting in 5 s", name)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=5)

    await asyncio.gather(*(supervise(name, worker) for name, worker in workers.items()))
