"""The one place that wires adapters into the services. Entry points call :func:`bootstrap`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from teams_app.adapters.clock import SystemClock
from teams_app.adapters.db.migrate import upgrade
from teams_app.adapters.db.uow import SqlUnitOfWorkFactory, make_engine
from teams_app.config import Settings
from teams_app.service.messagebus import MessageBus
from teams_app.service.ports import Clock
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
    workers: dict[str, Worker] = field(default_factory=dict)

    async def migrate(self) -> list[str]:
        return await upgrade(self.engine)

    async def close(self) -> None:
        await self.engine.dispose()


def bootstrap(settings: Settings, *, clock: Clock | None = None, engine: AsyncEngine | None = None) -> Application:
    """Build the application from settings. No I/O happens here; connections open on first use."""
    from teams_app.entrypoints.workers import scheduler_worker

    engine = engine or make_engine(settings.db.url, echo=settings.db.echo)
    clock = clock or SystemClock()
    uow_factory = SqlUnitOfWorkFactory(engine)
    bus = MessageBus()
    service = CoachingService(uow_factory, bus, clock)
    app = Application(settings, engine, uow_factory, bus, clock, service)
    if settings.scheduler.enabled:
        app.workers["scheduler"] = scheduler_worker(service, settings.scheduler.interval_s)
    return app
