"""``peercoach report``: the program's statements read back from the LRS, as a CSV and a one-page HTML."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from teams_app.entrypoints.cli.dev import dev_lrs_settings
from teams_app.entrypoints.cli.support import echo_safe, with_app

if TYPE_CHECKING:
    from teams_app.bootstrap import Application
    from teams_app.config import Settings


def report_settings(settings: Settings) -> Settings:
    found = dev_lrs_settings(settings)
    if found is None:
        raise click.ClickException("no LRS configured: set PEERCOACH_LRS__ENDPOINT (or run `peercoach dev` first)")
    return found


async def fetch_statements(settings: Settings, program_id: str, program_name: str,
                           since: date | None) -> list[dict[str, Any]]:
    from lrs_bridge.records import ProgramRef
    from teams_app.bootstrap import lrs_client, statement_builder
    from teams_app.reporting import VERB_VOIDED, is_voiding, mentions_activity

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
    from lrs_bridge.records import Person
    from teams_app.adapters.redaction import redact_text, redact_url
    from teams_app.bootstrap import statement_builder
    from teams_app.reporting import actor_key, build_report, write_csv, write_html

    settings = report_settings(app.settings)
    program = await app.service.get_program(program_ref)
    day = since.date() if since else None
    try:
        statements = await fetch_statements(settings, program.id, program.name, day)
    except Exception as exc:
        raise click.ClickException(redact_text(f"could not read the LRS at {redact_url(settings.lrs.endpoint)}: "
                                               f"{exc}")) from None
    # Departments come from our database (the LRS knows actors only by their LMS identity).
    builder = statement_builder(settings)
    departments: dict[str, str] = {}
    for person in await app.service.roster(program.id):
        # As the statements name the actor: in account mode by the AAD object id, else by email.
        agent = builder.agent(Person(email=person.email, aad_object_id=person.aad_object_id)).as_version("1.0.3")
        departments[actor_key(agent)] = person.profile.department or "unknown"
    result = build_report(statements, program.name, since=day, departments=departments)
    out_dir.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(write_csv, result, out_dir / "report.csv")
    await asyncio.to_thread(write_html, result, out_dir / "report.html")
    echo_safe(f"{result.statements} statements from {result.people} people; wrote {out_dir / 'report.csv'} and "
              f"{out_dir / 'report.html'}")


