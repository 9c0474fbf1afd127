"""``peercoach dev`` (the local stack: bot in dev mode, SQLite, a local ralph LRS) and ``peercoach report``."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click
from pydantic import SecretStr

from lrs_bridge.records import Person, ProgramRef
from teams_app import __version__
from teams_app.bootstrap import Application, bootstrap, lrs_client, statement_builder
from teams_app.config import Settings
from teams_app.entrypoints.cli_support import settings_from, with_app
from teams_app.reporting import (
    VERB_VOIDED,
    actor_key,
    build_report,
    is_voiding,
    mentions_activity,
    write_csv,
    write_html,
)

logger = logging.getLogger(__name__)

STATE_DIR = Path(".peercoach")
DEV_LRS_FILE = STATE_DIR / "lrs" / "endpoint.json"  # lets `peercoach report` find the dev stack's LRS


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        # Like the server will: connections of an earlier run in TIME_WAIT must not make the port look taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def with_lrs(settings: Settings, endpoint: str, username: str, password: str) -> Settings:
    lrs = settings.lrs.model_copy(update={"endpoint": endpoint, "username": username,
                                          "password": SecretStr(password),
                                          # ralph refuses Agent/Group statement objects (see lrs_bridge)
                                          "agent_objects": False})
    return settings.model_copy(update={"lrs": lrs})


@click.command()
@click.option("--port", type=int, default=3978, show_default=True, help="Port of the local bot.")
@click.option("--lrs-port", type=int, default=8100, show_default=True, help="Port of the local LRS (ralph).")
@click.option("--no-lrs", is_flag=True, help="Do not start a local LRS (statements wait in the outbox).")
@click.pass_context
def dev(ctx: click.Context, port: int, lrs_port: int, no_lrs: bool) -> None:
    """Local development: the bot in dev mode on SQLite, a local LRS with the relay pointed at it.

    State (database, LRS statements and credentials) lives in ./peercoach.db and ./.peercoach/ and
    survives a restart. Talk to the bot with the Microsoft 365 Agents Playground.
    """
    from aiohttp import web

    from teams_app.devstack import start_local_lrs
    from teams_app.entrypoints.cli import build_web_app

    settings = settings_from(ctx)
    local = None
    if not settings.lrs.configured and not no_lrs:
        if not _port_free(lrs_port):
            raise click.ClickException(f"port {lrs_port} is taken: pass --lrs-port, or --no-lrs")
        try:
            local = start_local_lrs(STATE_DIR / "lrs", lrs_port)
        except (ImportError, RuntimeError) as exc:
            raise click.ClickException(f"could not start the local LRS (ralph, from the dev extra): {exc}") from None
        settings = with_lrs(settings, local.endpoint, local.username, local.password)
        DEV_LRS_FILE.write_text(json.dumps({"endpoint": local.endpoint, "credentials": "credentials.json"}))
    try:
        app = bootstrap(settings)
        web_app = build_web_app(app)
        click.echo(f"peercoach {__version__} (dev mode, no authentication; database {settings.db.url})")
        click.echo(f"bot endpoint:  http://127.0.0.1:{port}/api/messages")
        if local is not None:
            click.echo(f"local LRS:     {local.endpoint} (user {local.username}, password in "
                       f"{STATE_DIR / 'lrs' / 'credentials.json'})")
        click.echo(f"chat with it:  npx @microsoft/m365agentsplayground -e http://127.0.0.1:{port}/api/messages "
                   "-c msteams")
        web.run_app(web_app, host="127.0.0.1", port=port, print=None)
    finally:
        if local is not None:
            local.stop()


def dev_lrs_settings(settings: Settings) -> Settings | None:
    """The configured LRS, or the one the dev stack started (with its saved credentials), or None."""
    if settings.lrs.configured:
        return settings
    if DEV_LRS_FILE.exists():
        saved = json.loads(DEV_LRS_FILE.read_text())
        credentials = json.loads((DEV_LRS_FILE.parent / saved["credentials"]).read_text())
        click.echo(f"using the dev stack's LRS at {saved['endpoint']}", err=True)
        return with_lrs(settings, saved["endpoint"], credentials["username"], credentials["password"])
    return None


def report_settings(settings: Settings) -> Settings:
    found = dev_lrs_settings(settings)
    if found is None:
        raise click.ClickException("no LRS configured: set PEERCOACH_LRS__ENDPOINT (or run `peercoach dev` first)")
    return found


async def fetch_statements(settings: Settings, program_id: str, program_name: str,
                           since: date | None) -> list[dict[str, Any]]:
    builder = statement_builder(settings)
    program_iri = builder.program_activity(ProgramRef(program_id, program_name), "en").id
    since_at = datetime.combine(since, datetime.min.time(), UTC) if since else None
    async with lrs_client(settings) as client:
        # related_activities: statements whose grouping or object is the program, i.e. all of it.
        found = [s async for s in client.get_statements(activity=program_iri, related_activities=True,
                                                        since=since_at)]
        if found:
            voiding = [s async for s in client.get_statements(verb=VERB_VOIDED, since=since_at)]
            return found + voiding
        # Nothing matched: either no statements yet, or an LRS that ignores the activity filter (ralph's
        # file backend compares the filter as an object, not a string). Filter here instead.
        everything = [s async for s in client.get_statements(since=since_at)]
    return [s for s in everything if mentions_activity(s, program_iri) or is_voiding(s)]


@click.command()
@click.option("--program", "program_ref", required=True, help="Program name or id.")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="Only statements from this day on.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("report"),
              show_default=True, help="Folder for report.csv and report.html.")
@with_app
async def report(app: Application, program_ref: str, since: datetime | None, out_dir: Path) -> None:
    """Read the program's statements back from the LRS: a CSV and a one-page HTML report with charts."""
    settings = report_settings(app.settings)
    program = await app.service.get_program(program_ref)
    day = since.date() if since else None
    try:
        statements = await fetch_statements(settings, program.id, program.name, day)
    except Exception as exc:
        raise click.ClickException(f"could not read the LRS at {settings.lrs.endpoint}: {exc}") from None
    # Departments come from our database (the LRS knows actors only by their LMS identity).
    builder = statement_builder(settings)
    departments: dict[str, str] = {}
    for person in await app.service.roster(program.id):
        agent = builder.agent(Person(email=person.email)).as_version("1.0.3")
        departments[actor_key(agent)] = person.profile.department or "unknown"
    result = build_report(statements, program.name, since=day, departments=departments)
    out_dir.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(write_csv, result, out_dir / "report.csv")
    await asyncio.to_thread(write_html, result, out_dir / "report.html")
    click.echo(f"{result.statements} statements from {result.people} people; wrote {out_dir / 'report.csv'} and "
               f"{out_dir / 'report.html'}")


@click.command()
@click.option("--participants", type=click.IntRange(2, 20_000), default=200, show_default=True)
@click.option("--rounds", type=click.IntRange(1, 52), default=3, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same people and choices.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=STATE_DIR / "simulation", show_default=True, help="Folder for its database and report.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def simulate(ctx: click.Context, participants: int, rounds: int, seed: int, out_dir: Path, as_json: bool) -> None:
    """Run a whole program with generated people through the real bot, Graph and email adapters.

    Teams, Graph and SMTP are local stand-ins; simulated time moves a week per round. Nothing touches your
    real database. Statements go to the configured LRS (or the dev stack's), and a report shows what the
    LMS will receive.
    """
    from teams_app.entrypoints.simulate import Simulation

    settings = settings_from(ctx)
    settings = dev_lrs_settings(settings) or settings
    for noisy in ("aiohttp.access", "mail.log"):  # thousands of local requests and SMTP dialogues
        logging.getLogger(noisy).setLevel(logging.WARNING)

    def say(line: str) -> None:
        if not as_json:
            click.echo(line)

    simulation = Simulation(settings, participants, rounds, seed, out_dir.resolve(), say=say)
    summary = asyncio.run(simulation.run())
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"emails sent: {summary['emails']} ({summary['reached_by_email_only']} people reached by email only)")
    click.echo(f"Teams messages: {summary['teams_messages']} (+{summary['teams_card_updates']} card updates); "
               f"Graph events: {summary['graph_events']}")
    click.echo(f"statements: {sum(summary['statements'].values())} "
               f"({', '.join(f'{k} {v}' for k, v in sorted(summary['statements'].items()))})")
    click.echo(f"average usefulness {summary['average_usefulness']}; report: {summary['report']}; "
               f"{summary['elapsed_s']} s")
