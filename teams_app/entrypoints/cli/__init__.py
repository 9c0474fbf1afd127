"""The ``peercoach`` command line. Each command group lives in its own module and is imported when it runs.

This module imports only click: ``peercoach --help`` and ``--version`` answer without loading the database,
bot, Graph or science libraries (``benchmarks/cli_start.py`` times them).
"""

from __future__ import annotations

from typing import Any

import click

from teams_app import __version__
from teams_app.entrypoints.cli.lazy import LazyCommand, LazyGroup

_HERE = "teams_app.entrypoints.cli"

COMMANDS: dict[str, LazyCommand] = {
    "assessment": LazyCommand(f"{_HERE}.assessment:assessment",
                              "Peer assessment: rubrics, opening, status, release and admin overrides."),
    "config": LazyCommand(f"{_HERE}.config:config_cmd", "List every setting with its default and meaning."),
    "db": LazyCommand(f"{_HERE}.db:db", "Database schema commands."),
    "dev": LazyCommand(f"{_HERE}.dev:dev",
                       "Local development: the bot in dev mode on SQLite, a local LRS with the relay pointed at it."),
    "export": LazyCommand(f"{_HERE}.export:export", "Export rounds and matches (one row per person per match)."),
    "graph": LazyCommand(f"{_HERE}.graph:graph", "Microsoft Graph: calendars, Teams meetings and program email."),
    "lrs": LazyCommand(f"{_HERE}.lrs:lrs",
                       "Learning Record Store: check the connection, see and drive statement delivery."),
    "manifest": LazyCommand(f"{_HERE}.manifest:manifest", "Teams app package: build and validate appPackage.zip."),
    "participants": LazyCommand(f"{_HERE}.participants:participants", "Bring people into programs."),
    "program": LazyCommand(f"{_HERE}.program:program", "Create and inspect programs."),
    "report": LazyCommand(f"{_HERE}.report:report",
                          "Read the program's statements back from the LRS: a CSV and a one-page HTML report with "
                          "charts."),
    "round": LazyCommand(f"{_HERE}.round:round_", "Run matching rounds."),
    "serve": LazyCommand(f"{_HERE}.serve:serve",
                         "Run the bot (/api/messages), /healthz, /readyz and the background workers."),
    "simulate": LazyCommand(f"{_HERE}.dev:simulate",
                            "Run a whole program with generated people through the real bot, Graph and email "
                            "adapters."),
}


@click.group(cls=LazyGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
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
