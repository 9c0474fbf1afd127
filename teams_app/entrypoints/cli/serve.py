"""``peercoach serve``: the bot endpoint, /healthz and the background workers."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import click

from teams_app.entrypoints.cli.support import settings_from

if TYPE_CHECKING:
    from teams_app.bootstrap import Application

logger = logging.getLogger(__name__)


@click.command()
@click.option("--host", help="Listen address (PEERCOACH_HOST).")
@click.option("--port", type=int, help="Listen port (PEERCOACH_PORT).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run the bot (/api/messages), /healthz, /readyz and the background workers."""
    from teams_app import __version__
    from teams_app.adapters.redaction import redact_url
    from teams_app.bootstrap import bootstrap

    settings = settings_from(ctx)
    app = bootstrap(settings)
    web_app = build_web_app(app)
    host, port = host or settings.host, port or settings.port
    if settings.bot.dev_mode:
        logger.warning("DEV MODE: activities are NOT authenticated. Use only with the Agents Playground.")
    click.echo(f"peercoach {__version__} listening on http://{host}:{port} (database {redact_url(settings.db.url)})")
    from teams_app.entrypoints.server import run

    run(web_app, settings, host, port)  # SIGTERM: drain within PEERCOACH_SERVER__SHUTDOWN_GRACE_S


def build_web_app(app: Application) -> Any:
    """The aiohttp app with every adapter's routes; bad bot credentials stop start-up with a clear message."""
    from teams_app.adapters.bot.hosting import BotConfigurationError
    from teams_app.entrypoints.web import create_web_app

    try:
        return create_web_app(app, installers=installers(), migrate=app.settings.server.migrate_on_start)
    except BotConfigurationError as exc:
        raise click.ClickException(str(exc)) from None


def installers() -> tuple[Any, ...]:
    """Route installers of the adapters present (the bot adds /api/messages)."""
    from teams_app.bootstrap.bot import bot_installer

    return (bot_installer(),)
