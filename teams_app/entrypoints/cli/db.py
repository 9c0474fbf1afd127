"""``peercoach db``: database schema commands."""

from __future__ import annotations

import asyncio

import click

from teams_app.entrypoints.cli.support import settings_from


@click.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Create or update the schema (safe to run again)."""
    from teams_app.adapters.redaction import redact_url
    from teams_app.bootstrap import bootstrap

    settings = settings_from(ctx)

    async def run() -> list[str]:
        app = bootstrap(settings)
        try:
            return await app.migrate()
        finally:
            await app.close()

    heads = asyncio.run(run())
    click.echo(f"database {redact_url(settings.db.url)} is at {', '.join(heads)}")
