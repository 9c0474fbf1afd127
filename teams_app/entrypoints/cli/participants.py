"""``peercoach participants``: import people from a CSV file, erase a person on request."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from teams_app.entrypoints.cli.support import echo_safe, with_app

if TYPE_CHECKING:
    from teams_app.bootstrap import Application


@click.group()
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
        echo_safe(f"{csv_file.name}: {problem}", err=True)
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
