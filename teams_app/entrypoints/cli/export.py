"""``peercoach export``: rounds and matches as CSV (formula-safe) or JSON."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from teams_app.entrypoints.cli.support import with_app

if TYPE_CHECKING:
    from teams_app.bootstrap import Application


@click.command("export")
@click.option("--program", "program_ref", help="Only this program.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
@with_app
async def export(app: Application, program_ref: str | None, fmt: str, out: Path | None) -> None:
    """Export rounds and matches (one row per person per match)."""
    from teams_app.adapters.csv_safe import safe_rows

    rows = [row.as_dict() for row in await app.service.export(program_ref)]
    if fmt == "json":
        text = json.dumps(rows, indent=2, default=str)
    else:
        buffer = io.StringIO()
        fields = list(rows[0]) if rows else ["program", "round", "match_id", "email", "role"]
        writer = csv.DictWriter(buffer, fieldnames=fields)
        writer.writeheader()
        writer.writerows(safe_rows(rows))  # names and departments come from people: no formulas
        text = buffer.getvalue()
    if out:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {len(rows)} row(s) to {out}", err=True)
    else:
        if sys.stdout.isatty():  # on a terminal, names must not be able to move the cursor or retitle it
            from teams_app.adapters.text_safety import printable

            text = printable(text)
        sys.stdout.write(text)
