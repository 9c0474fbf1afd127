"""Background jobs of ``peercoach serve``: one periodic-tick helper, and a supervisor that runs them all.

Every "every N seconds do X" job is :func:`periodic`: the same start, stop, error logging and back-off on
repeated failure (``lrs_bridge.retry.Backoff``: full jitter, never sooner than the normal interval, capped).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from lrs_bridge.retry import Backoff
from teams_app.service.assessment import AssessmentService
from teams_app.service.check_ins import CheckInPrompts
from teams_app.service.ports import Calendar
from teams_app.service.use_cases import CoachingService

logger = logging.getLogger(__name__)

Worker = Callable[[asyncio.Event], Awaitable[None]]  # runs until the event is set
Tick = Callable[[], Awaitable[object]]


def failure_backoff(interval_s: float) -> Backoff:
    """After n failed ticks in a row wait up to interval * 2^(n-1), at most 32 intervals (and one hour)."""
    return Backoff(base_s=interval_s, cap_s=max(interval_s, min(interval_s * 32, 3600.0)))


def periodic(name: str, tick: Tick, interval_s: float, *, backoff: Backoff | None = None) -> Worker:
    """A worker that runs ``tick`` now and then every ``interval_s`` seconds until stopped.

    A failing tick is logged and retried; after repeated failures the pause grows (with jitter), so a
    database that is down is not hammered by every job at once. One success resets the pause.
    """
    policy = backoff or failure_backoff(interval_s)

    async def run(stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                await tick()
                failures = 0
                wait = interval_s
            except Exception:
                failures += 1
                wait = max(interval_s, policy.delay(failures))
                logger.exception("%s tick failed (%s in a row); next try in %.1f s", name, failures, wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)

    return run


def exclusive_tick(tick: Tick, exclusive: Callable[[], AbstractAsyncContextManager[bool]]) -> Tick:
    """Run ``tick`` only while ``exclusive`` says this server holds the job (e.g. a database advisory lock)."""

    async def run() -> object:
        async with exclusive() as mine:
            return await tick() if mine else None

    return run


# -- the jobs ----------------------------------------------------------------------------------------
def scheduler_worker(service: CoachingService, interval_s: float) -> Worker:
    """Start due rounds per program cadence. Several servers may run it: the claim is row-locked."""

    async def tick() -> None:
        for result in await service.run_due_rounds():
            logger.info("started round %s of %s: %s matches, %s unmatched", result.round.number,
                        result.program.name, len(result.matches), len(result.unmatched))

    return periodic("scheduler", tick, interval_s)


def booking_worker(service: CoachingService, calendar: Calendar, interval_s: float,
                   exclusive: Callable[[], AbstractAsyncContextManager[bool]]) -> Worker:
    """Book meetings for new matches (Graph, or an ICS proposal when Graph is not configured).

    ``exclusive`` yields whether this server may book now: one server at a time books, so two servers never
    propose different slots for one match.
    """

    async def tick() -> None:
        booked = await service.book_open_matches(calendar)
        if booked:
            logger.info("recorded %s meeting(s)", booked)
        cancelled = await service.cancel_called_off(calendar)
        if cancelled:
            logger.info("cancelled %s called-off meeting(s) in the calendar", cancelled)

    return periodic("booking", exclusive_tick(tick, exclusive), interval_s)


def assessment_worker(service: AssessmentService, interval_s: float) -> Worker:
    """Record due review reminders (each with its notice) and release assessments whose deadline passed."""

    async def tick() -> None:
        reminders = await service.send_reminders()
        if reminders:
            logger.info("recorded %s review reminders", len(reminders))
        for summary in await service.release_due():
            logger.info("released assessment %s: %s released, %s withheld", summary.assessment.id,
                        len(summary.released), len(summary.withheld))

    return periodic("assessment", tick, interval_s)


def checkin_worker(prompts: CheckInPrompts, interval_s: float) -> Worker:
    """Queue check-in cards and reminders as they fall due."""
    return periodic("check-in prompts", prompts.scan, interval_s)


async def run_workers(workers: dict[str, Worker], stop: asyncio.Event) -> None:
    """Run workers until ``stop``; a crashed worker is logged and restarted after a pause."""

    async def supervise(name: str, worker: Worker) -> None:
        while not stop.is_set():
            try:
                await worker(stop)
            except Exception:
                logger.exception("worker %s crashed; restarting in 5 s", name)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=5)

    await asyncio.gather(*(supervise(name, worker) for name, worker in workers.items()))
