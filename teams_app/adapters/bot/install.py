"""Wiring the bot into the application: outbox handlers on the bus, workers, and ``POST /api/messages``.

``install_notifications(app)`` needs no botbuilder and should run in every process that changes the domain
(the CLI's ``round run`` too), so rounds started anywhere queue their notifications. ``bot_installer()``
returns the route installer for ``create_web_app`` and also starts the sender and reminder workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp import web

from teams_app.adapters.bot.email_render import program_email_renderer
from teams_app.adapters.bot.notifications import (
    CheckInReminders,
    NotificationPlanner,
    OutboxNotifier,
    PartnerNotices,
)
from teams_app.adapters.bot.sender import EmailRenderer, OutboxSender, Transport, default_email_renderer
from teams_app.adapters.bot.store import ConversationStore, InboundDedup, Outbox
from teams_app.bootstrap import Application
from teams_app.i18n import translator
from teams_app.service.ports import Clock, Mailer

logger = logging.getLogger(__name__)

BOT_KEY = web.AppKey("peercoach_bot", dict)
_installed: dict[int, Callable[[], None]] = {}  # id(bus) -> wake function of that bus's sender


class _Waker:
    def __init__(self) -> None:
        self.targets: list[Callable[[], None]] = []

    def __call__(self) -> None:
        for target in self.targets:
            target()


def install_notifications(app: Application) -> _Waker:
    """Register the outbox handlers on the application's bus once; returns the waker senders attach to."""
    existing = _installed.get(id(app.bus))
    if isinstance(existing, _Waker):
        return existing
    waker = _Waker()
    NotificationPlanner(wake=waker).register(app.bus)
    _installed[id(app.bus)] = waker
    assessment = getattr(app, "assessment", None)
    if assessment is not None:
        # Review requests, reminders and feedback reach people through the same outbox (Teams, else email).
        from teams_app.adapters.assessment_delivery import AssessmentDelivery

        AssessmentDelivery(assessment, OutboxNotifier(app.uow_factory, app.clock, wake=waker)).register(app.bus)
    return waker


def build_notifier(app: Application) -> OutboxNotifier:
    """The ``Notifier`` port for other adapters and use cases (rows go through the bot's outbox and sender)."""
    return OutboxNotifier(app.uow_factory, app.clock, wake=install_notifications(app))


def build_sender(app: Application, transport: Transport, mailer: Mailer | None, *,
                 email_renderer: EmailRenderer = default_email_renderer, **options: Any) -> OutboxSender:
    bot = app.settings.bot
    options.setdefault("per_conversation_rps", bot.per_conversation_rps)
    options.setdefault("per_tenant_rps", bot.per_tenant_rps)
    sender = OutboxSender(Outbox(app.engine), ConversationStore(app.engine), transport, mailer, app.uow_factory,
                          app.service, app.clock, email_renderer=email_renderer, **options)
    install_notifications(app).targets.append(sender.wake)
    return sender


def prune_worker(dedup: InboundDedup, clock: Clock, *, keep: timedelta = timedelta(days=2),
                 interval_s: float = 3600.0) -> Callable[[asyncio.Event], Awaitable[None]]:
    """Forget handled inbound activity ids after ``keep`` (the email channel resends within minutes)."""

    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                removed = await dedup.prune(clock.now() - keep)
                if removed:
                    logger.info("forgot %s handled inbound activity id(s)", removed)
            except Exception:
                logger.exception("pruning handled inbound activity ids failed; retrying next tick")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)

    return run


def bot_installer(*, mailer: Mailer | None = None, credentials_factory: Any = None,
                  email_renderer: EmailRenderer | None = None, transport: Transport | None = None,
                  checkin_after: timedelta = timedelta(days=5), reminder_after: timedelta = timedelta(days=2),
                  reminder_interval_s: float = 3600.0, sender_options: dict[str, Any] | None = None,
                  ) -> Callable[[web.Application, Application], None]:
    """The route installer: ``create_web_app(app, installers=(bot_installer(mailer=...),))``.

    ``mailer`` defaults to ``app.mailer`` when the application has one. ``credentials_factory`` (a botbuilder
    ServiceClientCredentialsFactory) replaces the one built from settings (e.g. a certificate store).
    """

    def install(web_app: web.Application, app: Application) -> None:
        from teams_app.adapters.bot.handler import PeerCoachBot
        from teams_app.adapters.bot.hosting import (
            CloudAdapter,
            DirectConnectorTransport,
            MessagesEndpoint,
            authentication,
        )

        settings = app.settings.bot
        auth = authentication(settings, credentials_factory)
        adapter = CloudAdapter(auth)
        conversations = ConversationStore(app.engine)
        waker = install_notifications(app)
        notices = PartnerNotices(app.uow_factory, app.clock, wake=waker)
        bot = PeerCoachBot(app.service, conversations, settings, app.clock, default_locale=app.settings.default_locale,
                           partner_notices=notices, assessment=getattr(app, "assessment", None))

        async def on_error(context: Any, error: Exception) -> None:
            logger.error("bot turn failed: %s", type(error).__name__, exc_info=error)
            try:
                # the activity's locale, as for every other reply; this handler runs outside the bot's own code
                _ = translator(getattr(context.activity, "locale", None) or app.settings.default_locale)
                await context.send_activity(_("Sorry, something went wrong on my side. Please try again."))
            except Exception:
                logger.debug("could not tell the user about the failure", exc_info=True)

        adapter.on_turn_error = on_error
        endpoint = MessagesEndpoint(adapter, auth, bot, settings, InboundDedup(app.engine), app.clock)
        web_app.router.add_post("/api/messages", endpoint.handle)

        chosen_mailer = mailer if mailer is not None else getattr(app, "mailer", None)
        if chosen_mailer is None:
            logger.warning("no Mailer configured: notifications for people unreachable in Teams will wait")
        connector = transport or DirectConnectorTransport(auth, settings.app_id)
        renderer = email_renderer or program_email_renderer(bot_app_id=settings.app_id,
                                                            teams_app_id=app.settings.manifest.app_id)
        sender = build_sender(app, connector, chosen_mailer, email_renderer=renderer,
                              **(sender_options or {}))
        reminders = CheckInReminders(app.uow_factory, app.clock, ask_after=checkin_after,
                                     remind_after=reminder_after, wake=sender.wake)
        app.workers["bot_sender"] = sender.run
        app.workers["checkin_reminders"] = reminders.worker(reminder_interval_s)
        app.workers["inbound_dedup_prune"] = prune_worker(InboundDedup(app.engine), app.clock)
        web_app[BOT_KEY] = {"bot": bot, "adapter": adapter, "sender": sender, "reminders": reminders,
                            "conversations": conversations, "transport": connector}

        async def close_transport(_: web.Application) -> None:
            for closable in (connector, auth):
                closer = getattr(closable, "close", None)
                if closer is not None:
                    await closer()

        web_app.on_cleanup.append(close_transport)

    return install
