"""The ``peercoach`` command line: serve, db, program, participants, round, export, config."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click
import yaml

from teams_app import __version__
from teams_app.bootstrap import Application, bootstrap
from teams_app.config import describe_settings
from teams_app.domain.model import MatchingPolicy, Program
from teams_app.entrypoints.cli_support import settings_from, with_app
from teams_app.service.use_cases import RoundResult

logger = logging.getLogger(__name__)
T = TypeVar("T")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="peercoach")
@click.option("--db", "db_url", metavar="URL", help="Database URL (overrides PEERCOACH_DB__URL).")
@click.pass_context
def main(ctx: click.Context, db_url: str | None) -> None:
    """Peer coaching in Microsoft Teams and email, recorded as xAPI statements in your LRS."""
    ctx.ensure_object(dict)
    # Only `serve` talks to Teams in production; every other command needs no bot credentials.
    overrides: dict[str, Any] = {"bot": {"dev_mode": True}} if ctx.invoked_subcommand != "serve" else {}
    if db_url:
        overrides["db"] = {"url": db_url}
    ctx.obj["overrides"] = overrides


# -- serve ----------------------------------------------------------------------------------------
@main.command()
@click.option("--host", help="Listen address (PEERCOACH_HOST).")
@click.option("--port", type=int, help="Listen port (PEERCOACH_PORT).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run the bot (/api/messages), /healthz and the background workers."""
    settings = settings_from(ctx)
    app = bootstrap(settings)
    web_app = build_web_app(app)
    host, port = host or settings.host, port or settings.port
    if settings.bot.dev_mode:
        logger.warning("DEV MODE: activities are NOT authenticated. Use only with the Agents Playground.")
    click.echo(f"peercoach {__version__} listening on http://{host}:{port} (database {redacted(settings.db.url)})")
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


def redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# -- db -------------------------------------------------------------------------------------------
@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Create or update the schema (safe to run again)."""
    settings = settings_from(ctx)

    async def run() -> list[str]:
        app = bootstrap(settings)
        try:
            return await app.migrate()
        finally:
            await app.close()

    heads = asyncio.run(run())
    click.echo(f"database {redacted(settings.db.url)} is at {', '.join(heads)}")


# -- program --------------------------------------------------------------------------------------
@main.group()
def program() -> None:
    """Create and inspect programs."""


def _program_options(data: dict[str, Any]) -> dict[str, Any]:
    options = dict(data)
    if isinstance(options.get("policy"), dict):
        options["policy"] = MatchingPolicy(**options["policy"])
    for key in ("next_round_at", "first_round_at"):
        if isinstance(options.get(key), str):
            options["next_round_at"] = datetime.fromisoformat(options.pop(key))
        elif key in options:
            options["next_round_at"] = options.pop(key)
    return options


def program_json(p: Program) -> dict[str, Any]:
    from teams_app.adapters.db.repositories import program_to_row

    row = program_to_row(p)
    return {**{k: v for k, v in row.items() if k != "settings"}, **row["settings"],
            "next_round_at": p.next_round_at.isoformat() if p.next_round_at else None,
            "created_at": p.created_at.isoformat()}


@program.command("create")
@click.option("--file", "file_", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML or JSON file with the program (flags override its values).")
@click.option("--name", help="Program name (unique).")
@click.option("--kind", type=click.Choice(["peer_pairs", "mentoring", "buddy", "circle", "action_learning"]))
@click.option("--cadence", type=click.Choice(["weekly", "fortnightly", "monthly"]))
@click.option("--cohort", help="Cohort label used in LMS reports.")
@click.option("--first-round-at", help="When the first round starts by itself (ISO 8601 with offset).")
@with_app
async def program_create(app: Application, file_: Path | None, name: str | None, kind: str | None,
                         cadence: str | None, cohort: str | None, first_round_at: str | None) -> None:
    """Create a program from flags or a file."""
    data: dict[str, Any] = {}
    if file_ is not None:
        try:
            loaded = yaml.safe_load(file_.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise click.ClickException(f"{file_}: not valid YAML/JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise click.ClickException(f"{file_}: expected a mapping of program fields")
        data.update(loaded)
    for key, value in (("name", name), ("kind", kind), ("cadence", cadence), ("cohort", cohort),
                       ("first_round_at", first_round_at)):
        if value is not None:
            data[key] = value
    missing = [k for k in ("name", "kind", "cadence") if not data.get(k)]
    if missing:
        raise click.ClickException(f"missing {', '.join(missing)} (give --{' --'.join(missing)} or a file)")
    try:
        options = _program_options({k: v for k, v in data.items() if k not in ("name", "kind", "cadence")})
        created = await app.service.create_program(data["name"], data["kind"], data["cadence"], **options)
    except (TypeError, ValueError) as exc:
        raise click.ClickException(f"invalid program: {exc}") from None
    click.echo(f"created program '{created.name}' ({created.id})")


@program.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_app
async def program_list(app: Application, as_json: bool) -> None:
    """List programs."""
    programs = await app.service.list_programs()
    if as_json:
        click.echo(json.dumps([program_json(p) for p in programs], indent=2))
        return
    if not programs:
        click.echo("no programs yet: create one with 'peercoach program create'")
    for p in programs:
        due = p.next_round_at.isoformat() if p.next_round_at else "not scheduled"
        click.echo(f"{p.name}\t{p.kind.value}\t{p.cadence.value}\tnext round: {due}")


@program.command("show")
@click.argument("program_ref")
@with_app
async def program_show(app: Application, program_ref: str) -> None:
    """Show one program (by name or id) and its status."""
    p = await app.service.get_program(program_ref)
    click.echo(json.dumps({"program": program_json(p), "status": (await app.service.status(p.id)).as_dict()}, indent=2))


# -- participants ---------------------------------------------------------------------------------
@main.group()
def participants() -> None:
    """Bring people into programs."""


@participants.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--program", "program_ref", required=True, help="Program name or id to enroll them in.")
@click.option("--skip-invalid", is_flag=True, help="Import the good rows and report the bad ones.")
@with_app
async def participants_import(app: Application, csv_file: Path, program_ref: str, skip_invalid: bool) -> None:
    """Enroll people from a CSV file (all or nothing unless --skip-invalid).

    Columns: email, name, department, location, time_zone, working_hours (09:00-17:00), languages (en;de),
    seniority (1-5), skills_offered, skills_wanted, goals (separated by ';'), start_date (YYYY-MM-DD),
    manager_email, role_preference (either|mentor|mentee). email and time_zone are required.
    """
    from teams_app.adapters.csv_import import parse_participants

    with csv_file.open(encoding="utf-8-sig", newline="") as handle:
        rows, problems = parse_participants(handle)
    for problem in problems:
        click.echo(f"{csv_file.name}: {problem}", err=True)
    if problems and not skip_invalid:
        raise click.ClickException(f"{len(problems)} problem(s) found; nothing was imported "
                                   "(fix the file, or use --skip-invalid to import the good rows)")
    added, existing = await app.service.import_participants(program_ref, rows)
    click.echo(f"enrolled {added} participant(s); {existing} already enrolled; {len(problems)} problem(s) skipped")


@participants.command("erase")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_app
async def participants_erase(app: Application, email: str, yes: bool) -> None:
    """Delete a person's personal data on request and void their learning records in the LRS."""
    if not yes and not click.confirm(f"Erase all personal data of {email}? This cannot be undone", default=False):
        raise click.Abort()
    await app.service.erase(email, requested_by="admin")
    click.echo("erased: personal data deleted; their learning records are withdrawn or voided in the LRS")


# -- round ----------------------------------------------------------------------------------------
@main.group("round")
def round_() -> None:
    """Run matching rounds."""


def round_json(result: RoundResult) -> dict[str, Any]:
    people = result.participants

    def person(pid: str) -> dict[str, str]:
        p = people.get(pid)
        return {"id": pid, "email": p.email if p else "", "name": p.display_name if p else ""}

    return {
        "program": result.program.name, "round": result.round.number, "dry_run": result.dry_run,
        "seed": result.round.seed, "quality": dict(result.round.quality),
        "matches": [{"id": m.id, "score": m.score, "explanation": list(m.reasons),
                     "members": [{**person(mm.participant_id), "role": mm.role.value} for mm in m.members]}
                    for m in result.matches],
        "unmatched": [{**person(pid), "reason": reason} for pid, reason in result.unmatched],
    }


@round_.command("run")
@click.option("--program", "program_ref", required=True, help="Program name or id.")
@click.option("--dry-run", is_flag=True, help="Show the matches without saving or notifying anyone.")
@click.option("--seed", type=int, help="Seed for reproducible matching.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_app
async def round_run(app: Application, program_ref: str, dry_run: bool, seed: int | None, as_json: bool) -> None:
    """Run the next round of a program now."""
    result = await app.service.run_round(program_ref, seed=seed, dry_run=dry_run)
    if as_json:
        click.echo(json.dumps(round_json(result), indent=2))
        return
    data = round_json(result)
    prefix = "DRY RUN: " if dry_run else ""
    click.echo(f"{prefix}round {data['round']} of {data['program']}: {len(data['matches'])} matches, "
               f"{len(data['unmatched'])} unmatched")
    for match in data["matches"]:
        names = " + ".join(f"{m['name']} ({m['role']})" for m in match["members"])
        click.echo(f"  {names}  score {match['score']}: {'; '.join(match['explanation'])}")
    for person in data["unmatched"]:
        click.echo(f"  unmatched: {person['name']}: {person['reason']}")


# -- export ---------------------------------------------------------------------------------------
@main.command("export")
@click.option("--program", "program_ref", help="Only this program.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
@with_app
async def export(app: Application, program_ref: str | None, fmt: str, out: Path | None) -> None:
    """Export rounds and matches (one row per person per match)."""
    rows = [row.as_dict() for row in await app.service.export(program_ref)]
    if fmt == "json":
        text = json.dumps(rows, indent=2, default=str)
    else:
        buffer = io.StringIO()
        fields = list(rows[0]) if rows else ["program", "round", "match_id", "email", "role"]
        writer = csv.DictWriter(buffer, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    if out:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {len(rows)} row(s) to {out}", err=True)
    else:
        sys.stdout.write(text)


# -- config ---------------------------------------------------------------------------------------
@main.command("config")
@click.option("--markdown", is_flag=True, help="Print a Markdown table (for docs).")
def config_cmd(markdown: bool) -> None:
    """List every setting with its default and meaning."""
    rows = describe_settings()
    if markdown:
        click.echo("| Setting | Default | Meaning |\n|---|---|---|")
        for name, default, description in rows:
            click.echo(f"| `{name}` | `{default}` | {description} |")
        return
    for name, default, description in rows:
        click.echo(f"{name}={default}\n    {description}")


def _register_groups() -> None:
    """Command groups that live in their own modules."""
    from teams_app.entrypoints.assessment import assessment
    from teams_app.entrypoints.cli_dev import dev, report, simulate
    from teams_app.entrypoints.cli_graph import graph
    from teams_app.entrypoints.cli_lrs import lrs
    from teams_app.entrypoints.cli_manifest import manifest

    main.add_command(manifest)
    main.add_command(graph)
    main.add_command(lrs)
    main.add_command(dev)
    main.add_command(report)
    main.add_command(simulate)
    main.add_command(assessment)


_register_groups()

if __name__ == "__main__":  # pragma: no cover
    main()

