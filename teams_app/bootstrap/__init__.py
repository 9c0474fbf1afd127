"""The composition root: the one place that builds the application from settings.

:func:`bootstrap` makes the database engine, the unit of work, the message bus with its in-transaction
handlers (learning records, notifications), the services, the outside adapters (calendar, mail) and the
background workers. :mod:`teams_app.bootstrap.bot` adds the Teams bot (endpoint, sender, its workers) to a
web app. Entry points call these; nothing else constructs services or adapters.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from lrs_bridge.client import LrsClient
from lrs_bridge.relay import Relay
from lrs_bridge.statements import StatementBuilder
from teams_app.adapters.assessment_delivery import AssessmentDelivery
from teams_app.adapters.clock import SystemClock
from teams_app.adapters.db.assessment_repo import SqlAssessmentUnitOfWorkFactory
from teams_app.adapters.db.locks import singleton
from teams_app.adapters.db.migrate import upgrade
from teams_app.adapters.db.uow import SqlUnitOfWorkFactory, make_engine
from teams_app.adapters.xapi import XapiRecorder
from teams_app.config import Settings
from teams_app.service.assessment import AssessmentService
from teams_app.service.check_ins import CheckInPrompts
from teams_app.service.messagebus import MessageBus
from teams_app.service.notifications import MatchNoticeRenderer, NotificationPlanner, OutboxNotifier, Waker
from teams_app.service.ports import Calendar, Clock, Mailer
from teams_app.service.use_cases import CoachingService
from teams_app.service.workers import Worker, assessment_worker, booking_worker, scheduler_worker

logger = logging.getLogger(__name__)


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
    check_ins: CheckInPrompts
    notifier: OutboxNotifier
    delivery: AssessmentDelivery  # assessment notices; renders review cards again when they are sent
    renderer: MatchNoticeRenderer  # renders match notices again when they are sent
    wake: Waker = field(default_factory=Waker)  # run after a commit that queued notifications
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
    from teams_app.adapters.rubric_files import program_rubrics

    engine = engine or make_engine(settings.db.url, echo=settings.db.echo)
    if settings.db.entra_auth:  # PostgreSQL sign-in with the managed identity's token (deploy)
        from teams_app.adapters.db.entra import entra_auth_from_settings

        entra = entra_auth_from_settings(engine, enabled=True, client_id=settings.db.entra_client_id,
                                         endpoint=settings.bot.identity_endpoint)
    clock = clock or SystemClock()
    uow_factory = SqlUnitOfWorkFactory(engine)
    bus = MessageBus()
    wake = Waker()
    service = CoachingService(uow_factory, bus, clock)
    assessment_uows = SqlAssessmentUnitOfWorkFactory(engine)
    # Built-in and program rubrics, read by the rubric file adapter (the domain reads no files).
    assessment = AssessmentService(assessment_uows, bus, clock, program_rubrics(settings.assessment.rubrics_dir))
    # In-transaction handlers: learning records and notifications commit with the change that causes them,
    # in every process that changes the domain (the CLI's `round run` too).
    XapiRecorder(statement_builder(settings), settings.lrs.system_email).register(bus)
    NotificationPlanner(wake=wake).register(bus)
    delivery = AssessmentDelivery(wake=wake, uow_factory=assessment_uows)
    delivery.register(bus)
    outside = build_calendar_and_mail(settings.graph, settings.smtp)
    app = Application(settings, engine, uow_factory, bus, clock, service, assessment, outside.calendar,
                      outside.mailer, CheckInPrompts(uow_factory, clock, wake=wake),
                      OutboxNotifier(uow_factory, clock, wake=wake), delivery, MatchNoticeRenderer(uow_factory),
                      wake=wake,
                      closers=[outside.close])
    if settings.db.entra_auth:
        app.closers.insert(0, entra.close)
    if settings.scheduler.enabled:
        interval = settings.scheduler.interval_s
        app.workers["scheduler"] = scheduler_worker(service, interval)
        app.workers["assessment"] = assessment_worker(assessment, interval)
        app.workers["booking"] = booking_worker(service, outside.calendar, interval,
                                                lambda: singleton(engine, "booking"))
    if settings.lrs.configured:
        app.workers["lrs-relay"] = relay_worker(settings, engine)
    else:
        logger.info("no LRS configured (PEERCOACH_LRS__ENDPOINT): statements wait in the outbox")
    return app


def statement_builder(settings: Settings) -> StatementBuilder:
    lrs = settings.lrs
    return StatementBuilder(activity_base_iri=lrs.activity_base_iri,
                            actor_identification=lrs.actor_identification.value,
                            account_homepage=lrs.account_homepage, platform=lrs.platform,
                            agent_objects=lrs.agent_objects, simulated=lrs.simulated)


def lrs_client(settings: Settings) -> LrsClient:
    lrs = settings.lrs
    return LrsClient(lrs.endpoint, username=lrs.username, password=lrs.password.get_secret_value(), auth=lrs.auth,
                     token_url=lrs.token_url, timeout_s=lrs.timeout_s)


def relay_worker(settings: Settings, engine: AsyncEngine) -> Worker:
    """Deliver the xAPI outbox to the configured LRS until stopped."""

    async def run(stop: asyncio.Event) -> None:
        async with lrs_client(settings) as client:
            await Relay(engine, client, batch_size=settings.lrs.batch_size).run_forever(stop)

    return run
