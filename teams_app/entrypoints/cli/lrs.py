"""``peercoach lrs ...``: check the LRS, show the outbox, run the relay, replay dead letters.

Registered in the main CLI's command table; it also runs on its own with
``python -m teams_app.entrypoints.cli.lrs`` (or the older ``python -m teams_app.entrypoints.cli_lrs``).
Every line it prints goes through :func:`echo_safe`: an endpoint URL with a password in it is shown without.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import click
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from lrs_bridge.audit import AuditReport
from lrs_bridge.check import check_lrs
from lrs_bridge.client import LrsClient, LrsError
from lrs_bridge.outbox import dead_letters, replay_dead, status
from lrs_bridge.relay import Relay
from teams_app.adapters.db.migrate import upgrade
from teams_app.adapters.db.uow import make_engine
from teams_app.adapters.redaction import redact_text, redact_url
from teams_app.bootstrap import lrs_client
from teams_app.config import Settings, SettingsError, load_settings
from teams_app.entrypoints.cli.support import echo_safe, settings_from

T = TypeVar("T")


def _settings() -> Settings:
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.find_root().command.name != "lrs":  # under `peercoach`: its settings and options
        return settings_from(ctx)
    try:
        return load_settings(bot={"dev_mode": True})  # `python -m ...cli_lrs`: no bot credentials needed
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _client(settings: Settings) -> LrsClient:
    if not settings.lrs.configured:
        raise click.ClickException("no LRS configured: set PEERCOACH_LRS__ENDPOINT (the xAPI base URL)")
    try:
        return lrs_client(settings)
    except ValueError as exc:
        raise click.ClickException(redact_text(f"LRS settings: {exc}")) from None


def _run_db(settings: Settings, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run ``work`` with an engine on the configured database; explain a missing outbox table."""

    async def main() -> T:
        engine = make_engine(settings.db.url)
        try:
            await upgrade(engine)  # the outbox table exists on any database peercoach has opened
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except (OperationalError, ProgrammingError) as exc:
        text = str(exc.orig) if exc.orig is not None else str(exc)
        if "lrs_outbox" in text:
            raise click.ClickException(
                "the outbox table lrs_outbox does not exist in the database: run the migrations "
                f"(alembic upgrade heads) first. ({redact_text(text)})"
            ) from None
        raise click.ClickException(redact_text(f"database error: {text}")) from None
    except (DBAPIError, OSError) as exc:
        database = redact_url(settings.db.url)
        raise click.ClickException(redact_text(f"cannot use the database {database!r}: {exc}")) from None


@click.group("lrs")
def lrs() -> None:
    """Learning Record Store: check the connection, see and drive statement delivery."""


@lrs.command("check")
def check_command() -> None:
    """Reach /about, verify the xAPI version and our credentials; explain what fails."""
    settings = _settings()
    client = _client(settings)

    async def main() -> bool:
        async with client:
            result = await check_lrs(client)
        for line in result.lines:
            echo_safe(line)
        return result.ok

    if not asyncio.run(main()):
        raise click.ClickException(
            "LRS check failed; the settings involved: PEERCOACH_LRS__ENDPOINT, PEERCOACH_LRS__USERNAME, "
            "PEERCOACH_LRS__PASSWORD, PEERCOACH_LRS__AUTH, PEERCOACH_LRS__TOKEN_URL"
        )
    click.echo("LRS check passed")


@lrs.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def status_command(as_json: bool) -> None:
    """Outbox counts: queued, delivered, dead, and the age of the oldest queued statement."""
    settings = _settings()
    st = _run_db(settings, status)
    if as_json:
        click.echo(json.dumps(st.as_dict()))
        return
    age = "-" if st.oldest_queued_age_s is None else f"{st.oldest_queued_age_s:.1f} s"
    click.echo(f"queued     {st.queued}")
    click.echo(f"delivered  {st.delivered}")
    click.echo(f"dead       {st.dead}")
    click.echo(f"oldest queued age  {age}")


@lrs.command("relay")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--poll-interval", default=1.0, show_default=True, type=float,
              help="Seconds between looks at an empty outbox.")
def relay_command(once: bool, poll_interval: float) -> None:
    """Deliver queued statements to the LRS; runs until Ctrl-C (or SIGTERM) unless --once."""
    settings = _settings()
    client = _client(settings)

    async def work(engine: AsyncEngine) -> int:
        async with client:
            relay = Relay(engine, client, batch_size=settings.lrs.batch_size, poll_interval_s=poll_interval)
            if once:
                report = await relay.run_once()
                click.echo(f"posts {report.posts}, delivered {report.delivered}, dead {report.dead}, "
                           f"deferred {report.deferred}")
                for error in report.errors[:5]:
                    echo_safe(f"error: {error[:300]}", err=True)
                return 1 if report.errors and not report.delivered else 0
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):  # not on Windows
                    loop.add_signal_handler(sig, stop.set)
            click.echo(f"relay running against {redact_url(settings.lrs.endpoint)}; Ctrl-C stops it")
            await relay.run_forever(stop)
            return 0

    code = _run_db(settings, work)
    if code:
        raise click.ClickException("nothing could be delivered; see the errors above")


@lrs.command("replay")
@click.option("--dead", "dead", is_flag=True, required=True, help="Re-queue dead-lettered statements.")
@click.option("--id", "ids", multiple=True, help="Only these statement ids (repeatable).")
def replay_command(dead: bool, ids: tuple[str, ...]) -> None:
    """Put dead-lettered statements back in the queue (after fixing what the LRS objected to)."""
    settings = _settings()
    try:
        wanted = [uuid.UUID(i) for i in ids] if ids else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--id") from None

    async def work(engine: AsyncEngine) -> int:
        for letter in await dead_letters(engine, limit=20):
            if wanted is None or letter.statement_id in wanted:
                echo_safe(f"{letter.statement_id}  {letter.status_code}  {letter.reason[:150]}")
        return await replay_dead(engine, wanted)

    count = _run_db(settings, work)
    click.echo(f"re-queued {count} dead statements")



@lrs.command("audit")
@click.option("--program", "program", default="", help="Program id or its activity IRI (default: every statement).")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="Only statements from this day on (UTC).")
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]), help="Only statements before this day (UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def audit_command(program: str, since: datetime | None, until: datetime | None, as_json: bool) -> None:
    """Read the LRS's statements and report per verb how many match the profile and keep xAPI's rules."""
    from lrs_bridge.audit import audit, render
    from lrs_bridge.records import ProgramRef
    from teams_app.bootstrap import statement_builder

    settings = _settings()
    client = _client(settings)
    program_iri = program if program.startswith(("http://", "https://")) or not program else \
        statement_builder(settings).program_activity(ProgramRef(program, program)).id

    async def main() -> AuditReport:
        async with client:
            return await audit(client, program_iri=program_iri or None,
                               since=since.replace(tzinfo=UTC) if since else None,
                               until=until.replace(tzinfo=UTC) if until else None)

    try:
        report = asyncio.run(main())
    except LrsError as exc:
        raise click.ClickException(redact_text(f"could not read the LRS at {settings.lrs.endpoint}: {exc}")) from None
    echo_safe(json.dumps(report.as_dict()) if as_json else render(report))
    if not report.ok:
        raise SystemExit(1)


if __name__ == "__main__":
    lrs()
