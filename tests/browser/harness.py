"""What a browser test of the participant journey stands on: `peercoach dev`, the Agents Playground, Chromium.

Each piece is the real thing a newcomer uses: `peercoach dev` as a process on a fresh state directory, the
Microsoft 365 Agents Playground (npm ``@microsoft/m365agentsplayground``, pinned in ``playground/``, installed
here with ``npm ci`` when missing) pointed at it, and Debian's Chromium driven by Playwright through
``executable_path`` (Playwright never downloads a browser here). Nothing is skipped: a missing piece fails
the test with the reason and how to install it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import pytest

from teams_app.devstack import free_port

REPO = Path(__file__).resolve().parents[2]
PLAYGROUND_DIR = Path(__file__).resolve().parent / "playground"
ARTIFACTS = Path(os.environ.get("PEERCOACH_TEST_ARTIFACTS", REPO / "test-artifacts"))

# What the probe of this machine kind found Chromium needs as root with no network beyond loopback.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def wait_for_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args!r} exited with {process.returncode}:\n{tail(log)}", pytrace=False)
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"{url} did not answer within {timeout_s:.0f} s:\n{tail(log)}", pytrace=False)


def tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Debian's chromium is needed for the browser tests: apt-get install -y chromium "
                    "(.ci/run installs it)", pytrace=False)
    return path


def playground_bin() -> Path:
    """The pinned Agents Playground, installed with ``npm ci`` from its lock file when it is not there yet."""
    binary = PLAYGROUND_DIR / "node_modules" / ".bin" / "agentsplayground"
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm (Node.js) is needed to install the Microsoft 365 Agents Playground", pytrace=False)
    result = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--prefix", str(PLAYGROUND_DIR)],
                            capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0 or not binary.exists():
        pytest.fail("could not install the Microsoft 365 Agents Playground (npm @microsoft/m365agentsplayground): "
                    f"{(result.stderr or result.stdout)[-1500:]}", pytrace=False)
    return binary


class Process:
    """A child process with its output in a log file, stopped with SIGINT then SIGKILL."""

    def __init__(self, args: Sequence[str], *, cwd: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._file = log.open("wb")
        self.popen = subprocess.Popen(list(args), cwd=cwd, env=env, stdout=self._file, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGINT)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)
        self._file.close()


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any PEERCOACH_ setting of the developer's, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEERCOACH_")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


class DevBot:
    """``peercoach dev`` on a fresh state directory, as the README's first command starts it."""

    def __init__(self, workdir: Path, *, args: Sequence[str] = (), env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.env = clean_env(**(env or {}))
        self.process = Process([sys.executable, "-m", "teams_app.entrypoints.cli", "dev", "--port", str(self.port),
                                "--lrs-port", str(free_port()), *args],
                               cwd=workdir, env=self.env, log=workdir / "peercoach-dev.log")
        wait_for_http(f"http://127.0.0.1:{self.port}/healthz", self.process.popen, self.process.log, 120)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/messages"

    def cli(self, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
        """A ``peercoach`` command on the same state directory, as an admin would type it beside the bot."""
        return subprocess.run([sys.executable, "-m", "teams_app.entrypoints.cli", *args], cwd=self.workdir,
                              env=self.env, capture_output=True, text=True, timeout=timeout_s, check=False)

    def stop(self) -> None:
        self.process.stop()


class Playground:
    """The Agents Playground process, pointed at the bot, on a free port.

    Its conversations carry the locale and ``localTimezone`` of the Node.js process (``Intl``), so a German
    Teams client in Berlin is the Playground started with that locale and zone.
    """

    def __init__(self, workdir: Path, bot_endpoint: str, *, locale: str = "en-US", time_zone: str = "UTC") -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        posix = locale.replace("-", "_") + ".UTF-8"
        env = {**os.environ, "BROWSER": "none", "LC_ALL": posix, "LANG": posix, "TZ": time_zone}
        self.process = Process([str(playground_bin()), "-e", bot_endpoint, "-c", "msteams", "-p", str(self.port),
                                "--disable-telemetry"], cwd=workdir, env=env, log=workdir / "playground.log")
        wait_for_http(self.url, self.process.popen, self.process.log, 60)

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}/"

    def stop(self) -> None:
        self.process.stop()


def artifact_dir(test_name: str) -> Path:
    path = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)
    path.mkdir(parents=True, exist_ok=True)
    return path
