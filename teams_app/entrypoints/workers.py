"""Background workers that run inside ``peercoach serve``: each loops until its stop event is set."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

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
