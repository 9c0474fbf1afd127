"""Helpers shared by the CLI's command modules: settings loading and running async commands."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar

import click

from teams_app.bootstrap import bootstrap
from teams_app.config import Settings, SettingsError, load_settings
from teams_app.domain.errors import DomainError
from teams_app.logging_json import apply_log_format

logger = logging.getLogger(__name__)
T = TypeVar("T")


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level != "DEBUG":  # migration chatter is noise on every command
        logging.getLogger("alembic").setLevel(logging.WARNING)
        logging.getLogger("teams_app.adapters.db.migrate").setLevel(logging.WARNING)


def settings_from(ctx: click.Context) -> Settings:
    """Load settings once per invocation (the only place the CLI reads configuration)."""
    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        try:
            obj["settings"] = load_settings(**obj.get("overrides", {}))
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from None
        configure_logging(obj["settings"].log_level)
        apply_log_format(obj["settings"].server.log_format)
    settings: Settings = obj["settings"]
    return settings


def with_app(fn: Callable[..., Awaitable[T]]) -> Callable[..., T]:
    """Run an async command with a bootstrapped application on a migrated database."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
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
