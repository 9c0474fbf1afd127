"""``peercoach program``: create, list and show programs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from teams_app.entrypoints.cli.support import echo_safe, with_app

if TYPE_CHECKING:
    from teams_app.bootstrap import Application
    from teams_app.domain.model import Program


@click.group()
def program() -> None:
    """Create and inspect programs."""


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
@click.option("--kind", help="peer_pairs, mentoring, buddy, circle or action_learning (any case).")
@click.option("--cadence", help="weekly, fortnightly or monthly (any case).")
@click.option("--cohort", help="Cohort label used in LMS reports.")
@click.option("--first-round-at", help="When the first round starts by itself (ISO 8601 with offset).")
@with_app
async def program_create(app: Application, file_: Path | None, name: str | None, kind: str | None,
                         cadence: str | None, cohort: str | None, first_round_at: str | None) -> None:
    """Create a program from flags or a file."""
    from teams_app.entrypoints.cli.program_input import ProgramInputError, program_input

    flags = {"name": name, "kind": kind, "cadence": cadence, "cohort": cohort, "first_round_at": first_round_at}
    try:
        spec = program_input(file_, {k: v for k, v in flags.items() if v is not None})
    except ProgramInputError as exc:
        raise click.ClickException(str(exc)) from None
    taken = {p.name.casefold(): p.name for p in await app.service.list_programs()}
    if spec.name.casefold() in taken:  # "Pairs" and "PAIRS" side by side would confuse every admin command
        raise click.ClickException(f"a program called '{taken[spec.name.casefold()]}' already exists")
    try:
        created = await app.service.create_program(spec.name, spec.kind, spec.cadence, **spec.options)
    except (TypeError, ValueError) as exc:
        raise click.ClickException(f"invalid program: {exc}") from None
    echo_safe(f"created program '{created.name}' ({created.id})")


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
        echo_safe(f"{p.name}\t{p.kind.value}\t{p.cadence.value}\tnext round: {due}")


@program.command("show")
@click.argument("program_ref")
@with_app
async def program_show(app: Application, program_ref: str) -> None:
    """Show one program (by name or id) and its status."""
    p = await app.service.get_program(program_ref)
    click.echo(json.dumps({"program": program_json(p), "status": (await app.service.status(p.id)).as_dict()}, indent=2,
                          default=str))
