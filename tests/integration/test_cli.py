"""The peercoach CLI end to end on a SQLite file: import, rounds, refusals, programs from files, export."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from pathlib import Path

import click
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
                    ["manifest", "build"], ["graph", "check"], ["assessment", "open"], ["lrs", "status"],
                    ["report"], ["participants", "erase"]):
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


HEAVY = ("sqlalchemy", "botbuilder", "msgraph", "scipy", "matplotlib", "babel", "aiohttp", "alembic", "numpy",
         "pydantic", "yaml")


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["-h"]])
def test_help_and_version_import_no_heavy_module(argv: list[str]) -> None:
    code = ("import sys\nfrom teams_app.entrypoints.cli import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            f"print('LOADED', sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "LOADED []"


def test_help_lists_every_command_with_its_own_help_line() -> None:
    from teams_app.entrypoints.cli import COMMANDS

    listing = CliRunner().invoke(main, ["--help"]).output
    for name, entry in COMMANDS.items():
        assert f"  {name} " in listing
        command = main.get_command(click.Context(main), name)
        assert command is not None and command.name in (name, "round")
        assert command.get_short_help_str(limit=1000) == entry.short_help, name


@pytest.mark.parametrize(("content", "expected"), [
    (b"name: [a, b]\nkind: circle\ncadence: weekly\n", "name: must be text, not a list"),
    (b"name: P\nkind: circle\ncadence: weekly\npolicy: strict\n", "policy: must be a mapping of matching settings"),
    (b"name: P\nkind: circle\ncadence: weekly\nfirst_round_at: 20261201\n", "first_round_at: must be a date and time"),
    (b"name: P\nkind: circle\ncadence: weekly\nfirst_round_at: 2026-12-01\n", "is a day without a time"),
    (b"name: Caf\xe9\nkind: circle\ncadence: weekly\n", "not UTF-8 text (byte 0xe9 on line 1)"),
    (b"name: P\nkind: Pairs\ncadence: weekly\n", "kind: 'Pairs' is not one of peer_pairs"),
    (b"name: P\nkind: circle\ncadence: weekly\npolicy: {group_min: three}\n", "policy.group_min: must be a whole"),
    (b"name: P\nkind: circle\ncadence: weekly\ncolour: red\n", "colour: not a program field"),
    (b"- just\n- a list\n", "expected a mapping of program fields"),
])
def test_program_file_problems_are_named_without_a_traceback(cli, tmp_path: Path, content: bytes,  # type: ignore[no-untyped-def]
                                                             expected: str) -> None:
    spec = tmp_path / "program.yaml"
    spec.write_bytes(content)
    result = CliRunner().invoke(main, ["--db", f"sqlite+aiosqlite:///{tmp_path / 'p.db'}", "program", "create",
                                       "--file", str(spec)])
    assert result.exit_code == 1 and result.exception is not None and isinstance(result.exception, SystemExit)
    assert expected in result.output
    assert "Traceback" not in result.output


def test_first_round_at_without_offset_is_refused(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("program", "create", "--name", "P", "--kind", "circle", "--cadence", "weekly",
                 "--first-round-at", "2026-12-01T09:00")
    assert result.exit_code == 1 and "first_round_at: 2026-12-01T09:00:00 has no UTC offset" in result.output


def test_kinds_and_cadences_are_normalised_whatever_their_case(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("program", "create", "--name", "A", "--kind", "PEER_PAIRS", "--cadence", "Weekly").exit_code == 0
    assert cli("program", "create", "--name", "B", "--kind", "Peer_Pairs", "--cadence", "WEEKLY").exit_code == 0
    listed = cli("program", "list").output
    assert "A\tpeer_pairs\tweekly" in listed and "B\tpeer_pairs\tweekly" in listed
    twin = cli("program", "create", "--name", "a", "--kind", "circle", "--cadence", "weekly")
    assert twin.exit_code == 1 and "a program called 'A' already exists" in twin.output


def test_export_csv_escapes_cells_a_spreadsheet_would_run(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    people = tmp_path / "people.csv"
    people.write_text("email,name,department,time_zone\n"
                      'a@example.com,"=HYPERLINK(""http://x"",""y"")",+1,UTC\n'
                      "b@example.com,@SUM(A1),-2,UTC\n", encoding="utf-8")
    cli("program", "create", "--name", "Pairs", "--kind", "peer_pairs", "--cadence", "weekly")
    assert cli("participants", "import", str(people), "--program", "Pairs").exit_code == 0
    cli("round", "run", "--program", "Pairs")
    text = cli("export", "--program", "Pairs").output
    cells = [cell for row in csv.reader(text.splitlines()) for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "'=HYPERLINK(\"http://x\",\"y\")" in cells or "'@SUM(A1)" in cells


def test_lrs_check_never_prints_a_password_written_into_the_endpoint(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PEERCOACH_LRS__ENDPOINT", "http://admin:hunter2@127.0.0.1:1/xAPI/")
    monkeypatch.setenv("PEERCOACH_LRS__TIMEOUT_S", "2")
    result = CliRunner().invoke(main, ["--db", f"sqlite+aiosqlite:///{tmp_path / 'l.db'}", "lrs", "check"])
    assert result.exit_code == 1
    assert "127.0.0.1:1" in result.output and "admin:***@" in result.output
    assert "hunter2" not in result.output


def test_error_messages_carry_no_terminal_escapes(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("program", "show", "\x1b]0;pwned\x07Nope")
    assert result.exit_code == 1 and "was not found" in result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
