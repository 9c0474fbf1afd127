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
@click.option("--sessions-per-term", type=int,
              help="Circle programs: sessions a circle stays together before new circles form (default 6).")
@click.option("--announcement-channel",
              help="Circle programs: the Teams channel id (19:...@thread...) where rounds are announced, "
                   "without names.")
@with_app
async def program_create(app: Application, file_: Path | None, name: str | None, kind: str | None,
                         cadence: str | None, cohort: str | None, first_round_at: str | None,
                         sessions_per_term: int | None, announcement_channel: str | None) -> None:
    """Create a program from flags or a file."""
    from teams_app.entrypoints.cli.program_input import ProgramInputError, program_input

    flags: dict[str, Any] = {"name": name, "kind": kind, "cadence": cadence, "cohort": cohort,
                             "first_round_at": first_round_at, "sessions_per_term": sessions_per_term,
                             "announcement_channel": announcement_channel}
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


@program.command("config")
@click.argument("program_ref")
@click.option("--sessions-per-term", type=int,
              help="Sessions a circle stays together before new circles form (takes effect from the next round).")
@click.option("--announcement-channel",
              help="Teams channel id (19:...@thread...) for round announcements without names; '' for none.")
@with_app
async def program_config(app: Application, program_ref: str, sessions_per_term: int | None,
                         announcement_channel: str | None) -> None:
    """Change a program's circle settings."""
    from teams_app.domain.errors import InvalidInput, InvalidInputs

    changes: dict[str, Any] = {}
    if sessions_per_term is not None:
        changes["sessions_per_term"] = sessions_per_term
    if announcement_channel is not None:
        changes["announcement_channel"] = announcement_channel.strip()
    if not changes:
        raise click.UsageError("nothing to change: give --sessions-per-term and/or --announcement-channel")
    try:
        updated = await app.service.update_program(program_ref, **changes)
    except (InvalidInput, InvalidInputs) as exc:
        raise click.ClickException(f"invalid program: {exc}") from None
    echo_safe(f"program '{updated.name}': sessions per term {updated.sessions_per_term}, announcement channel "
              f"{updated.announcement_channel or 'none'}")


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
