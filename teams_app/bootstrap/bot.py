"""The Teams bot in the composition root: ``POST /api/messages``, the outbox sender and the bot's workers.

``bot_installer()`` returns the route installer for ``create_web_app``; it builds the bot's adapters from the
application (its settings, engine, services and the notification waker) and adds the sender, check-in
prompt and inbound-dedup workers. Notifications themselves are queued by the bus handlers that
:func:`teams_app.bootstrap.bootstrap` registers, in every process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aiohttp import web

from teams_app.adapters.bot.email_render import program_email_renderer
from teams_app.adapters.bot.sender import EmailRenderer, OutboxSender, Transport, default_email_renderer
from teams_app.adapters.bot.store import ConversationStore, InboundDedup, Outbox
from teams_app.bootstrap import Application
from teams_app.bootstrap.web_twin import install_web_twin
from teams_app.i18n import translator
from teams_app.service.notifications import OutboxNotifier
from teams_app.service.ports import Mailer
from teams_app.service.workers import Worker, checkin_worker, periodic

logger = logging.getLogger(__name__)

BOT_KEY = web.AppKey("peercoach_bot", dict)


def build_notifier(app: Application) -> OutboxNotifier:
    """The ``Notifier`` port for other adapters and use cases (notices go through the outbox and sender)."""
    return app.notifier


def build_sender(app: Application, transport: Transport, mailer: Mailer | None, *,
                 email_renderer: EmailRenderer = default_email_renderer, **options: Any) -> OutboxSender:
    bot = app.settings.bot
    options.setdefault("per_conversation_rps", bot.per_conversation_rps)
    options.setdefault("per_tenant_rps", bot.per_tenant_rps)
    # Cards show things as they are when they are sent: match views and review cards are rendered again.
    outbox = Outbox(app.engine, renderers=(app.renderer.render, app.delivery.render))
    options.setdefault("card_links", app.card_links)  # web links to cards Teams cannot show
    sender = OutboxSender(outbox, ConversationStore(app.engine), transport, mailer, app.uow_factory,
                          app.service, app.clock, email_renderer=email_renderer, **options)
    app.wake.attach(sender.wake)
    return sender


def prune_worker(app: Application, dedup: InboundDedup, *, keep: timedelta = timedelta(days=2),
                 interval_s: float = 3600.0) -> Worker:
    """Forget handled inbound activity ids after ``keep`` (the email channel resends within minutes)."""

    async def tick() -> None:
        removed = await dedup.prune(app.clock.now() - keep)
        if removed:
            logger.info("forgot %s handled inbound activity id(s)", removed)

    return periodic("inbound dedup prune", tick, interval_s)


def bot_installer(*, mailer: Mailer | None = None, credentials_factory: Any = None,
                  email_renderer: EmailRenderer | None = None, transport: Transport | None = None,
                  reminder_interval_s: float = 3600.0, sender_options: dict[str, Any] | None = None,
                  ) -> Callable[[web.Application, Application], None]:
    """The route installer: ``create_web_app(app, installers=(bot_installer(mailer=...),))``.

    ``mailer`` defaults to ``app.mailer`` when the application has one. ``credentials_factory`` (a botbuilder
    ServiceClientCredentialsFactory or a ``BotTokenProvider``) replaces the one built from settings (e.g. a
    certificate store). Without one, a bot configured for a managed identity takes its outbound tokens from the
    managed identity endpoint (``teams_app.adapters.identity``), asynchronously, never through msal.
    """

    def install(web_app: web.Application, app: Application) -> None:
        from teams_app.adapters.bot.handler import PeerCoachBot
        from teams_app.adapters.bot.hosting import (
            CloudAdapter,
            DirectConnectorTransport,
            MessagesEndpoint,
            authentication,
            check_credentials,
        )
        from teams_app.adapters.identity import bot_token_provider

        settings = app.settings.bot
        credentials = credentials_factory
        managed = bot_token_provider(settings) if credentials is None else None
        if managed is not None:
            check_credentials(settings)  # the settings still need their tenant id; a factory would skip the check
            credentials = managed
        auth = authentication(settings, credentials)
        adapter = CloudAdapter(auth)
        conversations = ConversationStore(app.engine)
        bot = PeerCoachBot(app.service, conversations, settings, app.clock, default_locale=app.settings.default_locale,
                           assessment=app.assessment, card_links=app.card_links)

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
        install_web_twin(web_app, app)  # /twin/<token>: cards as web pages, when configured

        chosen_mailer = mailer if mailer is not None else app.mailer
        if chosen_mailer is None:
            logger.warning("no Mailer configured: notifications for people Teams cannot reach are not delivered "
                           "(they fail at once); configure SMTP or Graph mail to email them")
        connector = transport or DirectConnectorTransport(auth, settings.app_id)
        renderer = email_renderer or program_email_renderer(bot_app_id=settings.app_id,
                                                            teams_app_id=app.settings.manifest.app_id,
                                                            links=app.card_links)
        sender = build_sender(app, connector, chosen_mailer, email_renderer=renderer,
                              **(sender_options or {}))
        check_ins = app.check_ins
        app.workers["bot_sender"] = sender.run
        app.workers["checkin_reminders"] = checkin_worker(check_ins, reminder_interval_s)
        app.workers["inbound_dedup_prune"] = prune_worker(app, InboundDedup(app.engine))
        web_app[BOT_KEY] = {"bot": bot, "adapter": adapter, "sender": sender, "reminders": check_ins,
                            "conversations": conversations, "transport": connector}

        async def close_transport(_: web.Application) -> None:
            for closable in (connector, auth, managed):
                closer = getattr(closable, "close", None)
                if closer is not None:
                    await closer()

        web_app.on_cleanup.append(close_transport)

    return install
