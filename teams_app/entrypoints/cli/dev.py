"""``peercoach dev`` (the local stack: bot in dev mode, SQLite, a local ralph LRS) and ``peercoach simulate``.

``dev_lrs_settings`` also serves ``peercoach report``: the dev stack's LRS when none is configured.
``simulate`` never uses the configured LRS: only one named on its command line, or its own local one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import click

from teams_app.entrypoints.cli.support import echo_safe, settings_from

if TYPE_CHECKING:
    from aiohttp import web

    from teams_app.bootstrap import Application
    from teams_app.config import Settings


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
    from pydantic import SecretStr

    lrs = settings.lrs.model_copy(update={"endpoint": endpoint, "username": username,
                                          "password": SecretStr(password),
                                          # ralph refuses Agent/Group statement objects (see lrs_bridge)
                                          "agent_objects": False})
    return settings.model_copy(update={"lrs": lrs})


@click.command()
@click.option("--port", type=int, default=3978, show_default=True, help="Port of the local bot.")
@click.option("--lrs-port", type=int, default=8100, show_default=True, help="Port of the local LRS (ralph).")
@click.option("--no-lrs", is_flag=True, help="Do not start a local LRS (statements wait in the outbox).")
@click.option("--no-demo", is_flag=True, help="Do not create the demo program and colleagues on a fresh database.")
@click.pass_context
def dev(ctx: click.Context, port: int, lrs_port: int, no_lrs: bool, no_demo: bool) -> None:
    """Local development: the bot in dev mode on SQLite, a local LRS with the relay pointed at it.

    On a database with no program yet it creates a demo program with a few colleagues (the Agents
    Playground's mock users), and the Playground's own user is an admin (dev mode only), so the whole
    journey works at once: consent, profile, `round run`, intro, check-in. Email for people Teams cannot
    reach is written to ./.peercoach/mail/. State (database, LRS statements and credentials, mail) lives in
    ./peercoach.db and ./.peercoach/ and survives a restart. Talk to the bot with the Agents Playground.
    """
    from aiohttp import web

    from teams_app import __version__
    from teams_app.adapters.redaction import redact_url
    from teams_app.bootstrap import bootstrap
    from teams_app.devstack import start_local_lrs
    from teams_app.entrypoints.cli.serve import build_web_app
    from teams_app.service.demo import PLAYGROUND_USER_EMAIL

    settings = settings_from(ctx)
    if not settings.bot.admins:  # dev mode only: the Playground's default user may run rounds
        settings = settings.model_copy(update={"bot": settings.bot.model_copy(
            update={"admins": [PLAYGROUND_USER_EMAIL]})})
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
        settings, mail_note = _dev_mail(settings)
        settings = _dev_web_twin(settings, port)
        app = bootstrap(settings)
        if not no_demo:
            _add_demo(app)
        web_app = build_web_app(app)
        if not no_demo:
            web_app.on_startup.append(_seed_demo_on_start)  # after the migrations of the app's own startup
        click.echo(f"peercoach {__version__} (dev mode, no authentication; database {redact_url(settings.db.url)})")
        click.echo(f"admins:        {', '.join(settings.bot.admins)} (set PEERCOACH_BOT__ADMINS to change)")
        click.echo(f"email:         {mail_note}")
        click.echo(f"bot endpoint:  http://127.0.0.1:{port}/api/messages")
        click.echo(f"card links:    {settings.web_twin.public_base_url}/twin/... (web twins of cards, in emails)")
        if local is not None:
            click.echo(f"local LRS:     {local.endpoint} (user {local.username}, password in "
                       f"{STATE_DIR / 'lrs' / 'credentials.json'})")
        click.echo(f"chat with it:  npx @microsoft/m365agentsplayground -e http://127.0.0.1:{port}/api/messages "
                   "-c msteams")
        web.run_app(web_app, host="127.0.0.1", port=port, print=None)
    finally:
        if local is not None:
            local.stop()


def _dev_mail(settings: Settings) -> tuple[Settings, str]:
    """Without SMTP or Graph mail, email goes to .eml files in the state folder: say where."""
    if settings.smtp.host or (settings.graph.configured and settings.graph.sender_mailbox):
        return settings, "sent through the configured SMTP server or Graph mail"
    folder = (STATE_DIR / "mail").resolve()
    smtp = settings.smtp.model_copy(update={"folder": folder})
    return settings.model_copy(update={"smtp": smtp}), f"written to {folder} as .eml files (no SMTP or Graph mail)"


def _dev_web_twin(settings: Settings, port: int) -> Settings:
    """Web twins of cards work out of the box: links to this process, signed with a key kept in the state
    folder (made once, readable only by its owner) unless one is configured."""
    twin = settings.web_twin
    from pydantic import SecretStr

    key = twin.signing_key.get_secret_value()
    if not key:
        path = STATE_DIR / "web_twin.key"
        if not path.exists():
            STATE_DIR.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        key = path.read_text(encoding="utf-8").strip()
    base = twin.public_base_url or settings.public_url or f"http://127.0.0.1:{port}"
    return settings.model_copy(update={"web_twin": twin.model_copy(
        update={"signing_key": SecretStr(key), "public_base_url": base})})


def _add_demo(app: Application) -> None:
    """Demo colleagues answer their check-ins in the background (every few seconds)."""
    from teams_app.service.demo import answer_demo_check_ins
    from teams_app.service.workers import periodic

    async def tick() -> None:
        await answer_demo_check_ins(app.service)

    app.workers["demo_check_ins"] = periodic("demo check-ins", tick, 3.0)


async def _seed_demo_on_start(web_app: web.Application) -> None:
    from teams_app.entrypoints.web import APP_KEY
    from teams_app.service.demo import DEMO_PROGRAM, seed_demo

    if await seed_demo(web_app[APP_KEY].service):
        click.echo(f"demo:          program '{DEMO_PROGRAM}' with 3 demo colleagues; in the Playground press "
                   "'Yes, I want to take part', fill in your profile, then type 'round run'")


def dev_lrs_settings(settings: Settings) -> Settings | None:
    """The configured LRS, or the one the dev stack started (with its saved credentials), or None."""
    if settings.lrs.configured:
        return settings
    if DEV_LRS_FILE.exists():
        saved = json.loads(DEV_LRS_FILE.read_text())
        credentials = json.loads((DEV_LRS_FILE.parent / saved["credentials"]).read_text())
        echo_safe(f"using the dev stack's LRS at {saved['endpoint']}", err=True)
        return with_lrs(settings, saved["endpoint"], credentials["username"], credentials["password"])
    return None


@click.command()
@click.option("--participants", type=click.IntRange(2, 20_000), default=200, show_default=True)
@click.option("--rounds", type=click.IntRange(1, 52), default=3, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same people and choices.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=STATE_DIR / "simulation", show_default=True, help="Folder for its database, LRS and report.")
@click.option("--lrs-endpoint", default="", help="Send to this LRS (default: a local one started for the run; "
              "the configured PEERCOACH_LRS__ENDPOINT is never used).")
@click.option("--lrs-username", default="", help="Basic auth user of --lrs-endpoint.")
@click.option("--lrs-password", default="", envvar="PEERCOACH_SIMULATE_LRS_PASSWORD",
              help="Basic auth password of --lrs-endpoint (or PEERCOACH_SIMULATE_LRS_PASSWORD).")
@click.option("--lrs-agent-objects/--no-lrs-agent-objects", default=False, show_default=True,
              help="Agent/Group objects for talked-with and mentored (ralph refuses them).")
@click.option("--assessments/--no-assessments", default=True, show_default=True,
              help="A peer assessment every second round, its feedback released after the deadline.")
@click.option("--erasures", type=click.IntRange(0, 1000), default=2, show_default=True,
              help="People who ask for erasure at the end.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def simulate(ctx: click.Context, participants: int, rounds: int, seed: int, out_dir: Path, lrs_endpoint: str,
             lrs_username: str, lrs_password: str, lrs_agent_objects: bool, assessments: bool, erasures: int,
             as_json: bool) -> None:
    """Run a whole program with generated people through the real bot, Graph and email adapters.

    Rounds and check-ins, peer assessments with released feedback, pauses and resumes, people leaving and
    erasure requests. Teams, Graph and SMTP are local stand-ins; simulated time ends now (a week per round).
    Nothing touches your real database, and statements go to a local LRS started for the run unless you
    name one with --lrs-endpoint; they are marked simulated. Exits 1 when the LRS refused statements or
    some were dead-lettered or left undelivered.
    """
    from teams_app.entrypoints.simulate import LrsTarget, Simulation

    if lrs_endpoint and not lrs_endpoint.startswith(("http://", "https://")):
        raise click.BadParameter("must be an http(s) URL", param_hint="--lrs-endpoint")
    if erasures > participants:
        raise click.BadParameter("cannot exceed --participants", param_hint="--erasures")
    settings = settings_from(ctx)
    target = LrsTarget(lrs_endpoint, lrs_username, lrs_password, lrs_agent_objects) if lrs_endpoint else None
    for noisy in ("aiohttp.access", "mail.log"):  # thousands of local requests and SMTP dialogues
        logging.getLogger(noisy).setLevel(logging.WARNING)

    def say(line: str) -> None:
        if not as_json:
            click.echo(line)

    simulation = Simulation(settings, participants, rounds, seed, out_dir.resolve(), say=say, lrs=target,
                            assessments=assessments, erasures=erasures)
    try:
        summary = asyncio.run(simulation.run())
    except (ImportError, RuntimeError) as exc:
        raise click.ClickException(f"the simulation could not run: {exc}") from None
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        life = summary["lifecycle"]
        click.echo(f"emails sent: {summary['emails']} ({summary['reached_by_email_only']} people reached by "
                   "email only)")
        click.echo(f"Teams messages: {summary['teams_messages']} (+{summary['teams_card_updates']} card updates); "
                   f"Graph events: {summary['graph_events']}")
        click.echo(f"lifecycle: {life['paused']} pauses, {life['resumed']} resumed, {life['left']} left, "
                   f"{life['erased']} erased; {life['reviews_submitted']} reviews, feedback released to "
                   f"{life['feedback_released']}")
        click.echo(f"statements: {sum(summary['statements'].values())} "
                   f"({', '.join(f'{k} {v}' for k, v in sorted(summary['statements'].items()))})")
        click.echo(f"LRS {summary['lrs']['endpoint']}: {summary['statements_delivered_to_lrs']} delivered, "
                   f"{summary['refused']} refused, {summary['dead_lettered']} dead-lettered, "
                   f"{summary['undelivered']} undelivered")
        click.echo(f"average usefulness {summary['average_usefulness']}; report: {summary['report']}; "
                   f"{summary['elapsed_s']} s")
    if not simulation.ok:
        echo_safe(f"not everything reached the LRS: {summary['refused']} refused, {summary['dead_lettered']} "
                  f"dead-lettered, {summary['undelivered']} undelivered", err=True)
        ctx.exit(1)
