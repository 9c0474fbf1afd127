"""The assessment background worker: records due review reminders and releases assessments past their deadline.

Started by :func:`teams_app.bootstrap.bootstrap` (``app.workers["assessment"]``); the ``peercoach assessment``
commands are in :mod:`teams_app.entrypoints.cli.assessment`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from teams_app.service.assessment import AssessmentService

logger = logging.getLogger(__name__)


def assessment_worker(service: AssessmentService, interval_s: float) -> Callable[[asyncio.Event], Awaitable[None]]:
    """Record due reminders and release assessments whose deadline passed, every ``interval_s`` seconds."""

    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                reminders = await service.send_reminders()
                if reminders:
                    logger.info("recorded %s review reminders", len(reminders))
                for summary in await service.release_due():
                    logger.info("released assessment %s: %s released, %s withheld", summary.assessment.id,
                                len(summary.released), len(summary.withheld))
            except Exception:
                logger.exception("assessment tick failed")  # retried on the next tick
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)

    return run
