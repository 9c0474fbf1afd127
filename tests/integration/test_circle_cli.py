"""Admins set a circle program's term length and announcement channel with ``program create`` and
``program config``; bad values are refused with the field named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from teams_app.entrypoints.cli import main


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    db = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, ["--db", db, *args], catch_exceptions=False)

    return run


def test_circle_settings_from_create_flags_then_config(cli) -> None:  # type: ignore[no-untyped-def]
    created = cli("program", "create", "--name", "Circles", "--kind", "circle", "--cadence", "weekly",
                  "--sessions-per-term", "4", "--announcement-channel", "19:circles@thread.tacv2")
    assert created.exit_code == 0, created.output
    shown = json.loads(cli("program", "show", "Circles").output)["program"]
    assert shown["sessions_per_term"] == 4 and shown["announcement_channel"] == "19:circles@thread.tacv2"
    assert shown["policy"]["group_min"] == 3 and shown["policy"]["group_max"] == 8

    changed = cli("program", "config", "Circles", "--sessions-per-term", "8", "--announcement-channel", "")
    assert changed.exit_code == 0 and "sessions per term 8, announcement channel none" in changed.output
    shown = json.loads(cli("program", "show", "Circles").output)["program"]
    assert shown["sessions_per_term"] == 8 and shown["announcement_channel"] == ""


def test_bad_circle_settings_are_refused_with_the_field(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("program", "create", "--name", "Circles", "--kind", "circle", "--cadence", "weekly").exit_code == 0
    bad = cli("program", "config", "Circles", "--sessions-per-term", "0")
    assert bad.exit_code == 1 and "sessions_per_term" in bad.output
    nothing = cli("program", "config", "Circles")
    assert nothing.exit_code == 2 and "nothing to change" in nothing.output
    default = json.loads(cli("program", "show", "Circles").output)["program"]
    assert default["sessions_per_term"] == 6


def test_round_run_says_where_a_circle_is_in_its_term(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    people = tmp_path / "people.csv"
    people.write_text("email,name,time_zone\n" + "".join(f"c{i}@example.com,Member {i},Europe/Berlin\n"
                                                          for i in range(4)), encoding="utf-8")
    assert cli("program", "create", "--name", "Circles", "--kind", "circle", "--cadence", "weekly",
               "--sessions-per-term", "2").exit_code == 0
    assert cli("participants", "import", str(people), "--program", "Circles").exit_code == 0
    first = cli("round", "run", "--program", "Circles")
    assert "(term 1, session 1 of 2)" in first.output and "A new circle for this term: session 1 of 2. " in first.output
    second = json.loads(cli("round", "run", "--program", "Circles", "--json").output)
    assert (second["term"], second["session"]) == (1, 2)
    assert second["matches"][0]["explanation"][0] == "Your circle continues: session 2 of 2."
    roles = [m["role"] for m in second["matches"][0]["members"]]
    assert roles[0] == "facilitator" and roles.count("facilitator") == 1
    third = cli("round", "run", "--program", "Circles")
    assert "(term 2, session 1 of 2)" in third.output
