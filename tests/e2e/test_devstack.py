"""The local dev stack as a newcomer uses it: `peercoach dev`, CLI commands beside it, the report; restart.

`peercoach dev` runs as a real process (bot in dev mode on SQLite, a local ralph LRS, the relay), the
CLI works on the same database, statements reach the LRS, and everything is still there after a restart.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from teams_app.devstack import free_port
from teams_app.entrypoints.cli import main

REPO = Path(__file__).resolve().parents[2]


def wait_for(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


class DevStack:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port, self.lrs_port = free_port(), free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PEERCOACH_")}
        self.env.update({"PYTHONPATH": str(REPO), "PEERCOACH_SCHEDULER__INTERVAL_S": "0.2"})

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "teams_app.entrypoints.cli", "dev", "--port", str(self.port), "--lrs-port",
             str(self.lrs_port)], cwd=self.workdir, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        wait_for(f"http://127.0.0.1:{self.port}/healthz")

    def stop(self) -> str:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        output = self.process.communicate(timeout=30)[0].decode()
        self.process = None
        return output


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DevStack]:
    for name in [k for k in os.environ if k.startswith("PEERCOACH_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PEERCOACH_IMPORTS__NICENESS", "0")  # the import runs in pytest's thread (see conftest)
    monkeypatch.chdir(tmp_path)
    dev = DevStack(tmp_path)
    dev.start()
    try:
        yield dev
    finally:
        if dev.process is not None:  # a failed test: stop it the way a person would, so ralph stops too
            dev.process.send_signal(signal.SIGINT)
            try:
                dev.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                dev.process.kill()
                dev.process.wait()


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def report_statements() -> int:
    out = cli("report", "--program", "Pairs", "--out", "report")
    return int(out.split(" statements")[0].rsplit("\n", 1)[-1])


@pytest.mark.slow
def test_dev_stack_records_to_its_lrs_and_survives_a_restart(stack: DevStack, tmp_path: Path) -> None:
    cli("program", "create", "--name", "Pairs", "--kind", "peer_pairs", "--cadence", "weekly")
    people = tmp_path / "people.csv"
    with people.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "name", "department", "time_zone"])
        for i in range(4):
            writer.writerow([f"dev{i}@example.com", f"Dev {i}", "Sales" if i % 2 else "IT", "Europe/Berlin"])
    cli("participants", "import", str(people), "--program", "Pairs")
    cli("round", "run", "--program", "Pairs")
    deadline = time.monotonic() + 60
    count = 0
    while time.monotonic() < deadline:  # the dev server's relay delivers the outbox in the background
        count = report_statements()
        if count >= 12:  # 4 registered, 4 matched, 4 meetings scheduled (ICS proposals)
            break
        time.sleep(0.5)
    assert count == 12
    page = (tmp_path / "report" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 7  # the round funnel and usefulness per round, then five more
    first_output = stack.stop()
    assert "chat with it:  npx @microsoft/m365agentsplayground -e http://127.0.0.1:" in first_output

    stack.start()  # the same folder: same database, same LRS files and credentials
    assert report_statements() == 12
    status = json.loads(cli("program", "show", "Pairs"))["status"]
    assert status["enrolled"] == 4 and status["round"] == 1
    stack.stop()
