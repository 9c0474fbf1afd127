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
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from teams_app.adapters.db.migrate import upgrade
from teams_app.adapters.db.uow import SqlUnitOfWorkFactory, make_engine
from teams_app.config import Settings
from teams_app.service.messagebus import MessageBus
from teams_app.service.notifications import Waker
from teams_app.service.ports import Calendar, CardLinks, Clock, Mailer, NoCardLinks, UnitOfWork

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from lrs_bridge.client import LrsClient
    from lrs_bridge.statements import StatementBuilder
    from teams_app.adapters.assessment_delivery import AssessmentDelivery
    from teams_app.adapters.db.assessment_repo import SqlAssessmentUnitOfWorkFactory
    from teams_app.adapters.graph.factory import CalendarAndMail
    from teams_app.adapters.web.links import LinkSigner
    from teams_app.domain.events import Event
    from teams_app.service.assessment import AssessmentService
    from teams_app.service.check_ins import CheckInPrompts
    from teams_app.service.notifications import MatchNoticeRenderer, OutboxNotifier
    from teams_app.service.use_cases import CoachingService
    from teams_app.service.workers import Worker

logger = logging.getLogger(__name__)


class _DeferredBus(MessageBus):
    """A message bus whose standard handlers are registered just before the first event is dispatched.

    Registering them imports the learning-record and assessment-notice adapters; a command that only reads
    (``program list``) never dispatches an event, so it never pays for those imports.
    """

    def __init__(self, setup: Callable[[MessageBus], None]) -> None:
        super().__init__()
        self._setup: Callable[[MessageBus], None] | None = setup

    def _ready(self) -> None:
        if self._setup is not None:
            setup, self._setup = self._setup, None
            setup(self)

    async def flush(self, uow: UnitOfWork) -> None:
        self._ready()
        await super().flush(uow)

    async def commit(self, uow: UnitOfWork) -> list[Event]:
        self._ready()
        return await super().commit(uow)


class Application:
    """Everything an entry point needs: the services, the engine, and the background workers.

    Services and adapters are built (and their modules imported) when an entry point first uses them: the
    CLI's ``program list`` starts without the matcher, the calendar, Graph or the assessment modules.
    """

    def __init__(self, settings: Settings, engine: AsyncEngine, clock: Clock) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.uow_factory = SqlUnitOfWorkFactory(engine)
        self.wake = Waker()  # run after a commit that queued notifications
        self.bus: MessageBus = _DeferredBus(self._register_handlers)
        self.closers: list[Callable[[], Awaitable[None]]] = []

    def _register_handlers(self, bus: MessageBus) -> None:
        """In-transaction handlers: learning records and notifications commit with the change that causes
        them, in every process that changes the domain (the CLI's ``round run`` too)."""
        from teams_app.adapters.xapi import XapiRecorder
        from teams_app.service.notifications import NotificationPlanner

        XapiRecorder(statement_builder(self.settings), self.settings.lrs.system_email).register(bus)
        NotificationPlanner(wake=self.wake).register(bus)
        self.delivery.register(bus)

    async def migrate(self) -> list[str]:
        return await upgrade(self.engine)

    async def close(self) -> None:
        for close in reversed(self.closers):
            try:
                await close()
            except Exception:
                logger.exception("closing %s failed", close)
        await self.engine.dispose()

    @cached_property
    def service(self) -> CoachingService:
        from teams_app.service.use_cases import CoachingService

        return CoachingService(self.uow_factory, self.bus, self.clock)

    @cached_property
    def _assessment_uows(self) -> SqlAssessmentUnitOfWorkFactory:
        from teams_app.adapters.db.assessment_repo import SqlAssessmentUnitOfWorkFactory

        return SqlAssessmentUnitOfWorkFactory(self.engine)

    @cached_property
    def assessment(self) -> AssessmentService:
        from teams_app.adapters.rubric_files import program_rubrics
        from teams_app.service.assessment import AssessmentService

        # Built-in and program rubrics, read by the rubric file adapter (the domain reads no files).
        return AssessmentService(self._assessment_uows, self.bus, self.clock,
                                 program_rubrics(self.settings.assessment.rubrics_dir))

    @cached_property
    def delivery(self) -> AssessmentDelivery:
        """Assessment notices; renders review cards again when they are sent."""
        from teams_app.adapters.assessment_delivery import AssessmentDelivery

        return AssessmentDelivery(wake=self.wake, uow_factory=self._assessment_uows)

    @cached_property
    def _outside(self) -> CalendarAndMail:
        from teams_app.adapters.graph.factory import build_calendar_and_mail

        outside = build_calendar_and_mail(self.settings.graph, self.settings.smtp)
        self.closers.append(outside.close)
        return outside

    @property
    def calendar(self) -> Calendar:
        return self._outside.calendar

    @property
    def mailer(self) -> Mailer | None:
        return self._outside.mailer

    @cached_property
    def card_links(self) -> CardLinks:
        """Links to cards' web twins, for emails and for Teams when a card cannot be shown."""
        return self.link_signer or NoCardLinks()

    @cached_property
    def link_signer(self) -> LinkSigner | None:
        """The web twins' signer, when a signing key and a public URL are configured (else no web twins)."""
        twin = self.settings.web_twin
        key, base = twin.signing_key.get_secret_value(), twin.public_base_url or self.settings.public_url
        if not key or not base:
            return None
        from teams_app.adapters.web.links import LinkSigner

        return LinkSigner(key, base, self.clock, ttl=timedelta(hours=twin.ttl_hours))

    @cached_property
    def check_ins(self) -> CheckInPrompts:
        from teams_app.service.check_ins import CheckInPrompts

        return CheckInPrompts(self.uow_factory, self.clock, wake=self.wake)

    @cached_property
    def notifier(self) -> OutboxNotifier:
        from teams_app.service.notifications import OutboxNotifier

        return OutboxNotifier(self.uow_factory, self.clock, wake=self.wake)

    @cached_property
    def renderer(self) -> MatchNoticeRenderer:
        """Renders match notices again when they are sent."""
        from teams_app.service.notifications import MatchNoticeRenderer

        return MatchNoticeRenderer(self.uow_factory)

    @cached_property
    def workers(self) -> dict[str, Worker]:
        """The background workers, built when the server first asks for them (the CLI never does)."""
        from teams_app.adapters.db.locks import singleton
        from teams_app.service.workers import assessment_worker, booking_worker, scheduler_worker

        workers: dict[str, Worker] = {}
        settings, engine = self.settings, self.engine
        if settings.scheduler.enabled:
            interval = settings.scheduler.interval_s
            workers["scheduler"] = scheduler_worker(self.service, interval)
            workers["assessment"] = assessment_worker(self.assessment, interval)
            workers["booking"] = booking_worker(self.service, self.calendar, interval,
                                                lambda: singleton(engine, "booking"))
        if settings.lrs.configured:
            workers["lrs-relay"] = relay_worker(settings, engine)
        else:
            logger.info("no LRS configured (PEERCOACH_LRS__ENDPOINT): statements wait in the outbox")
        return workers


def bootstrap(settings: Settings, *, clock: Clock | None = None, engine: AsyncEngine | None = None) -> Application:
    """Build the application from settings. Nothing is read or connected here: services, adapters and workers
    are built on first use, connections open on first query."""
    engine = engine or make_engine(settings.db.url, echo=settings.db.echo)
    if clock is None:
        from teams_app.adapters.clock import SystemClock

        clock = SystemClock()
    app = Application(settings, engine, clock)
    if settings.db.entra_auth:  # PostgreSQL sign-in with the managed identity's token (deploy)
        from teams_app.adapters.db.entra import entra_auth_from_settings

        entra = entra_auth_from_settings(engine, enabled=True, client_id=settings.db.entra_client_id,
                                         endpoint=settings.bot.identity_endpoint)
        app.closers.append(entra.close)  # first in the list, so closed last
    return app


def statement_builder(settings: Settings) -> StatementBuilder:
    from lrs_bridge.statements import StatementBuilder

    lrs = settings.lrs
    return StatementBuilder(activity_base_iri=lrs.activity_base_iri,
                            actor_identification=lrs.actor_identification.value,
                            account_homepage=lrs.account_homepage, platform=lrs.platform,
                            agent_objects=lrs.agent_objects, simulated=lrs.simulated)


def lrs_client(settings: Settings) -> LrsClient:
    from lrs_bridge.client import LrsClient

    lrs = settings.lrs
    return LrsClient(lrs.endpoint, username=lrs.username, password=lrs.password.get_secret_value(), auth=lrs.auth,
                     token_url=lrs.token_url, timeout_s=lrs.timeout_s)


def relay_worker(settings: Settings, engine: AsyncEngine) -> Worker:
    """Deliver the xAPI outbox to the configured LRS until stopped."""

    async def run(stop: asyncio.Event) -> None:
        from lrs_bridge.relay import Relay

        async with lrs_client(settings) as client:
            await Relay(engine, client, batch_size=settings.lrs.batch_size).run_forever(stop)

    return run
