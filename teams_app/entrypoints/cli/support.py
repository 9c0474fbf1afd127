"""Helpers shared by the CLI's command modules: settings loading, logging, and running async commands.

Heavy modules (settings, bootstrap) are imported inside the functions, when a command runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from teams_app.config import Settings

T = TypeVar("T")


def configure_logging(level: str) -> None:
    from teams_app.adapters.redaction import RedactingFilter

    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # URLs in log lines lose their passwords
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    if level != "DEBUG":  # migration chatter is noise on every command
        logging.getLogger("alembic").setLevel(logging.WARNING)
        logging.getLogger("teams_app.adapters.db.migrate").setLevel(logging.WARNING)


def settings_from(ctx: click.Context) -> Settings:
    """Load settings once per invocation (the only place the CLI reads configuration)."""
    from teams_app.config import SettingsError, load_settings

    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        try:
            obj["settings"] = load_settings(**obj.get("overrides", {}))
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from None
        from teams_app.logging_json import apply_log_format

        configure_logging(obj["settings"].log_level)
        apply_log_format(obj["settings"].server.log_format)
    settings: Settings = obj["settings"]
    return settings


def echo_safe(text: str, *, err: bool = False) -> None:
    """Print with every URL's secrets hidden and terminal control sequences removed."""
    from teams_app.adapters.redaction import redact_text
    from teams_app.adapters.text_safety import printable

    click.echo(printable(redact_text(text)), err=err)


def with_app(fn: Callable[..., Awaitable[T]]) -> Callable[..., T]:
    """Run an async command with a bootstrapped application on a migrated database."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        from teams_app.bootstrap import bootstrap
        from teams_app.domain.errors import DomainError

        ctx = click.get_current_context()
        settings = settings_from(ctx)

        async def run() -> T:
            app = bootstrap(settings)
            try:
                await app.migrate()
                return await fn(app, *args, **kwargs)
            except DomainError as exc:
                raise click.ClickException(str(exc)) from None
            finally:
                await app.close()

        return asyncio.run(run())

    return wrapper
