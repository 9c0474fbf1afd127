"""``peercoach participants``: import people from a CSV file, erase a person on request."""

from __future__ import annotations

import asyncio
import gc
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import click

from teams_app.entrypoints.cli.support import echo_safe, with_app

if TYPE_CHECKING:
    from teams_app.adapters.csv_import import CsvLimits
    from teams_app.bootstrap import Application


@click.group()
def participants() -> None:
    """Bring people into programs."""


@participants.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--program", "program_ref", required=True, help="Program name or id to enroll them in.")
@click.option("--skip-invalid", is_flag=True, help="Import the good rows and report the bad ones.")
@click.option("--batch-size", type=click.IntRange(1, 10_000),
              help="People per transaction (PEERCOACH_IMPORTS__BATCH_SIZE, default 200).")
@click.option("--nice", "niceness", type=click.IntRange(0, 19),
              help="Lower this process's CPU priority by this much, so a bot on the same host answers first; "
                   "0 keeps normal priority (PEERCOACH_IMPORTS__NICENESS, default 10).")
@with_app
async def participants_import(app: Application, csv_file: Path, program_ref: str, skip_invalid: bool,
                              batch_size: int | None, niceness: int | None) -> None:
    """Enroll people from a CSV file (all or nothing unless --skip-invalid).

    The whole file is checked first and nothing is written if any row has a problem. Then people are written
    in short batches, so the bot keeps answering; if the import stops, run the same command again to finish it,
    or undo it with 'participants import-rollback IMPORT_ID'.

    Columns: email, name, department, location, time_zone, working_hours (09:00-17:00), languages (en;de),
    seniority (1-5), skills_offered, skills_wanted, goals (separated by ';'), start_date (YYYY-MM-DD),
    manager_email, role_preference (either|mentor|mentee). email and time_zone are required.
    """
    from teams_app.adapters.csv_import import CsvLimits

    settings = app.settings.imports
    niceness = settings.niceness if niceness is None else niceness
    # CPU: the bot's turns go before the import's batches (the import only takes longer). Not the idle
    # scheduling class: it helped the bot's p99 a little, but a batch holding SQLite's write lock could then
    # starve for seconds on a saturated host while the bot waits for that lock.
    if niceness:
        os.nice(niceness)
    limits = CsvLimits(max_cell_chars=settings.max_cell_chars, max_rows=settings.max_rows)
    program = await app.service.get_program(program_ref)  # a wrong program fails before reading the file
    gc.freeze()  # what start-up loaded lives to the end: full collections need not walk it again and again
    with tempfile.TemporaryFile(prefix="peercoach-import-") as spool:  # the good rows, parsed once
        await _import_checked(app, csv_file, program.id, limits, skip_invalid, batch_size, spool)


async def _import_checked(app: Application, csv_file: Path, program_id: str, limits: CsvLimits,
                          skip_invalid: bool, batch_size: int | None, spool: BinaryIO) -> None:
    from teams_app.adapters.csv_import import file_sha256, spooled_rows, validate_file
    from teams_app.adapters.db.import_tables import SqlImportCheckpoints
    from teams_app.adapters.db.uow import use_for_bulk_writes
    from teams_app.adapters.redaction import redact_text
    from teams_app.service.imports import ImportStopped, ParticipantImports

    settings = app.settings.imports
    checked = await asyncio.to_thread(validate_file, csv_file, limits, spool)
    for problem in checked.problems or []:
        echo_safe(f"{csv_file.name}: {problem}", err=True)
    if checked.problem_count > len(checked.problems or []):
        click.echo(f"{csv_file.name}: ... and {checked.problem_count - len(checked.problems or [])} more "
                   "problem(s)", err=True)
    if not checked.ok and not skip_invalid:
        raise click.ClickException(f"{checked.problem_count} problem(s) found; nothing was imported "
                                   "(fix the file, or use --skip-invalid to import the good rows)")
    digest = await asyncio.to_thread(file_sha256, csv_file)
    # A full collection walks every object older than the last freeze; every batch's objects die with it, so
    # without this one a full collection (~45 ms with the checked file's leftovers) could hit a batch holding
    # SQLite's write lock while the bot waits for it.
    gc.freeze()
    await use_for_bulk_writes(app.engine)
    imports = ParticipantImports(app.service, SqlImportCheckpoints(app.engine), app.clock)
    # SQLite has one writer at a time; an extra pause between batches only if the setting asks for one.
    pause_s = settings.pause_ms / 1000 if app.engine.dialect.name == "sqlite" else 0.0
    try:
        result = await imports.run(program_id, lambda: spooled_rows(spool),
                                   file_sha256=digest, total_rows=checked.good_rows,
                                   batch_size=batch_size or settings.batch_size, pause_s=pause_s)
    except ImportStopped as exc:
        raise click.ClickException(redact_text(
            f"the import stopped after {exc.written} of {exc.total} people ({type(exc.cause).__name__}: "
            f"{exc.cause}); run the same command again to continue where it stopped, or undo it with "
            f"'peercoach participants import-rollback {exc.import_id}'")) from None
    if result.resumed_at_row:
        click.echo(f"resumed an unfinished import of this file at row {result.resumed_at_row + 1}")
    click.echo(f"enrolled {result.enrolled} participant(s); {result.existing} already enrolled; "
               f"{checked.problem_count} problem(s) skipped (import {result.import_id})")


@participants.command("import-rollback")
@click.argument("import_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_app
async def participants_import_rollback(app: Application, import_id: str, yes: bool) -> None:
    """Undo an import: everyone it enrolled leaves the program again (recorded in the LRS)."""
    from teams_app.adapters.db.import_tables import SqlImportCheckpoints
    from teams_app.service.imports import ParticipantImports

    if not yes and not click.confirm(f"Take everyone import {import_id} enrolled out of the program?", default=False):
        raise click.Abort()
    imports = ParticipantImports(app.service, SqlImportCheckpoints(app.engine), app.clock)
    left = await imports.rollback(import_id)
    click.echo(f"rolled back import {import_id}: {left} participant(s) left the program")


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
