"""The one place that wires adapters into the services. Entry points call :func:`bootstrap`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from teams_app.adapters.clock import SystemClock
from teams_app.adapters.db.assessment_repo import SqlAssessmentUnitOfWorkFactory
from teams_app.adapters.db.migrate import upgrade
from teams_app.adapters.db.uow import SqlUnitOfWorkFactory, make_engine
from teams_app.config import Settings
from teams_app.service.assessment import AssessmentService
from teams_app.service.messagebus import MessageBus
from teams_app.service.ports import Calendar, Clock, Mailer
from teams_app.service.use_cases import CoachingService

logger = logging.getLogger(__name__)

Worker = Callable[[asyncio.Event], Awaitable[None]]


@dataclass
class Application:
    """Everything an entry point needs: the services, the engine, and the background workers."""

    settings: Settings
    engine: AsyncEngine
    uow_factory: SqlUnitOfWorkFactory
    bus: MessageBus
    clock: Clock
    service: CoachingService
    assessment: AssessmentService
    calendar: Calendar
    mailer: Mailer | None
    workers: dict[str, Worker] = field(default_factory=dict)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def migrate(self) -> list[str]:
        return await upgrade(self.engine)

    async def close(self) -> None:
        for close in reversed(self.closers):
            try:
                await close()
            except Exception:
                logger.exception("closing %s failed", close)
        await self.engine.dispose()


def bootstrap(settings: Settings, *, clock: Clock | None = None, engine: AsyncEngine | None = None) -> Application:
    """Build the application from settings. Only program rubric files are read; connections open on first use."""
    from teams_app.adapters.graph.factory import build_calendar_and_mail
    from teams_app.entrypoints.assessment import assessment_worker, load_rubric_dir
    from teams_app.entrypoints.workers import booking_worker, scheduler_worker

    engine = engine or make_engine(settings.db.url, echo=settings.db.echo)
    clock = clock or SystemClock()
    uow_factory = SqlUnitOfWorkFactory(engine)
    bus = MessageBus()
    service = CoachingService(uow_factory, bus, clock)
    rubrics = load_rubric_dir(settings.assessment.rubrics_dir) if settings.assessment.rubrics_dir else None
    assessment = AssessmentService(SqlAssessmentUnitOfWorkFactory(engine), bus, clock, rubrics)
    outside = build_calendar_and_mail(settings.graph, settings.smtp)
    app = Application(settings, engine, uow_factory, bus, clock, service, assessment, outside.calendar,
                      outside.mailer, closers=[outside.close])
    if settings.scheduler.enabled:
        app.workers["scheduler"] = scheduler_worker(service, settings.scheduler.interval_s)
        app.workers["assessment"] = assessment_worker(assessment, settings.scheduler.interval_s)
        app.workers["booking"] = booking_worker(service, outside.calendar, settings.scheduler.interval_s)
    return app
