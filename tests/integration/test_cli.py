"""The peercoach CLI end to end on a SQLite file: import, rounds, refusals, programs from files, export."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from teams_app.entrypoints.cli import main

ZONES = ["Europe/Berlin", "Europe/London", "America/New_York", "Europe/Madrid"]
SKILLS = ["SQL", "Python", "negotiation", "public speaking", "design", "finance", "leadership", "Excel"]


def write_people(path: Path, n: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "name", "department", "location", "time_zone", "languages", "skills_offered",
                         "skills_wanted", "seniority"])
        for i in range(n):
            writer.writerow([f"p{i}@example.com", f"Person {i}", rng.choice("ABCDEFG"),
                             rng.choice(["Berlin", "London", "NYC"]), rng.choice(ZONES), "en",
                             ";".join(rng.sample(SKILLS, 2)), ";".join(rng.sample(SKILLS, 2)), rng.randint(1, 5)])


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)  # no stray .env or database from the developer's checkout
    db = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, ["--db", db, *args], catch_exceptions=False)

    return run


def test_version_and_help_on_every_command(cli) -> None:  # type: ignore[no-untyped-def]
    assert "peercoach, version" in cli("--version").output
    for command in (["serve"], ["db", "upgrade"], ["program", "create"], ["program", "list"], ["program", "show"],
                    ["participants", "import"], ["round", "run"], ["export"], ["config"], ["dev"],
                    ["manifest", "build"], ["graph", "check"], ["assessment", "open"]):
        result = cli(*command, "--help")
        assert result.exit_code == 0, command
        assert "Usage:" in result.output


def test_import_1000_then_three_rounds_without_repeats(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_people(tmp_path / "people.csv", 1001)
    assert cli("program", "create", "--name", "Pairs", "--kind", "peer_pairs", "--cadence", "weekly").exit_code == 0
    result = cli("participants", "import", str(tmp_path / "people.csv"), "--program", "Pairs")
    assert "enrolled 1001 participant(s)" in result.output
    seen: set[frozenset[str]] = set()
    for number in (1, 2, 3):
        data = json.loads(cli("round", "run", "--program", "Pairs", "--json").output)
        assert data["round"] == number
        emails = [m["email"] for match in data["matches"] for m in match["members"]]
        assert len(emails) == len(set(emails)) == 1001
        sizes = [len(match["members"]) for match in data["matches"]]
        assert sizes.count(3) == 1 and set(sizes) == {2, 3}
        pairs = set()
        for match in data["matches"]:
            people = sorted(m["email"] for m in match["members"])
            pairs |= {frozenset((a, b)) for i, a in enumerate(people) for b in people[i + 1:]}
        assert not pairs & seen
        seen |= pairs
        assert all(match["explanation"] and "score" in match for match in data["matches"])


def test_bad_csv_is_refused_line_by_line_and_nothing_changes(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("program", "create", "--name", "Pairs", "--kind", "peer_pairs", "--cadence", "weekly")
    bad = tmp_path / "bad.csv"
    bad.write_text("email,name,time_zone\nok@example.com,Ok,UTC\n,No Mail,UTC\nz@example.com,Z,Nowhere/City\n"
                   "ok@example.com,Twin,UTC\n", encoding="utf-8")
    result = cli("participants", "import", str(bad), "--program", "Pairs")
    assert result.exit_code == 1
    assert "bad.csv: line 3: email: is missing" in result.output
    assert "bad.csv: line 4: time_zone: 'Nowhere/City' is not an IANA time zone" in result.output
    assert "bad.csv: line 5: email: duplicate person" in result.output
    assert "nothing was imported" in result.output
    status = json.loads(cli("program", "show", "Pairs").output)["status"]
    assert status["enrolled"] == 0
    skipped = cli("participants", "import", str(bad), "--program", "Pairs", "--skip-invalid")
    assert "enrolled 1 participant(s)" in skipped.output


def test_program_from_yaml_file_and_bad_values(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "program.yaml"
    spec.write_text("name: Circles\nkind: circle\ncadence: fortnightly\ncohort: 2026-Q4\n"
                    "first_round_at: '2026-12-01T09:00:00+00:00'\npolicy:\n  group_min: 4\n  group_max: 6\n",
                    encoding="utf-8")
    assert cli("program", "create", "--file", str(spec)).exit_code == 0
    shown = json.loads(cli("program", "show", "Circles").output)["program"]
    assert shown["policy"]["group_max"] == 6 and shown["next_round_at"].startswith("2026-12-01T09:00")
    again = cli("program", "create", "--file", str(spec))
    assert again.exit_code == 1 and "a program called 'Circles' already exists" in again.output
    spec.write_text("name: Broken\nkind: circle\ncadence: weekly\npolicy:\n  group_min: 9\n", encoding="utf-8")
    broken = cli("program", "create", "--file", str(spec))
    assert broken.exit_code == 1 and "group_min" in broken.output
    missing = cli("program", "create", "--name", "Only name")
    assert "missing kind, cadence" in missing.output
    unknown = cli("program", "show", "Nope")
    assert unknown.exit_code == 1 and "program 'Nope' was not found" in unknown.output


def test_export_csv_and_json(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_people(tmp_path / "people.csv", 6)
    cli("program", "create", "--name", "Pairs", "--kind", "peer_pairs", "--cadence", "weekly")
    cli("participants", "import", str(tmp_path / "people.csv"), "--program", "Pairs")
    cli("round", "run", "--program", "Pairs")
    rows = list(csv.DictReader(cli("export", "--program", "Pairs").output.splitlines()))
    assert len(rows) == 6 and rows[0]["program"] == "Pairs"
    out = tmp_path / "export.json"
    cli("export", "--format", "json", "--out", str(out))
    assert len(json.loads(out.read_text())) == 6


def test_invalid_setting_stops_with_the_setting_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PEERCOACH_DB__URL", "mysql://nope")
    result = CliRunner().invoke(main, ["program", "list"])
    assert result.exit_code == 1
    assert "PEERCOACH_DB__URL" in result.output


def test_serve_without_app_id_outside_dev_mode_refuses_to_start(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PEERCOACH_BOT__DEV_MODE", raising=False)
    monkeypatch.delenv("PEERCOACH_BOT__APP_ID", raising=False)
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 1
    assert "PEERCOACH_BOT__APP_ID is empty" in result.output
