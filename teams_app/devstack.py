"""The local development stack: a real LRS (ralph, from the dev extra) beside the bot, state kept on disk.

``peercoach dev`` starts :class:`LocalLrs` when no LRS is configured, points the relay at it and keeps its
statements and credentials under ``.peercoach/lrs`` so they survive a restart. Also runnable as
``python -m teams_app.devstack HOST PORT`` (the launcher the tests use).

ralph 4.2 to 5.1: the file backend writes with operation type CREATE, so every POST after the first
answers 500 (the target file already exists). Appending is what an LRS file must do, so the launcher sets
``FSLRSBackend.default_operation_type = APPEND`` before the app is imported; the rest is ralph's own code.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LrsProcess:
    """An LRS in a child process on a loopback port: started, waited for until it answers, stopped.

    Subclasses say what to run (:meth:`command`, :meth:`env`) and where it answers when ready (``ready_path``).
    """

    workdir: Path
    port: int
    username: str = "peercoach"
    password: str = ""
    process: subprocess.Popen[bytes] | None = None
    name = "the LRS"
    ready_path = "about"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/xAPI/"

    @property
    def log_file(self) -> Path:
        return self.workdir / "lrs.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def prepare(self) -> None:
        """Anything to set up in ``workdir`` before the process starts."""

    def start(self, timeout_s: float = 30.0) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.prepare()
        with open(self.log_file, "ab") as log:
            self.process = subprocess.Popen(self.command(), cwd=self.workdir, env=self.env(), stdout=log,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/{self.ready_path}",
                                         headers={"X-Experience-API-Version": "1.0.3"})
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}: "
                                   f"{self.log_file.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer on {request.full_url} within {timeout_s}s")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


@dataclass
class LocalLrs(LrsProcess):
    """A ralph LRS process on loopback with the file backend in ``workdir``."""

    name = "ralph"
    ready_path = "__heartbeat__"

    @property
    def log_file(self) -> Path:
        return self.workdir / "ralph.log"

    @property
    def statements_file(self) -> Path:
        return self.workdir / "data" / "fs_lrs.jsonl"

    def write_credentials(self) -> None:
        """Keep the same password across restarts (ralph stores only its bcrypt hash)."""
        import bcrypt  # ralph's own dependency, present with the dev extra

        secret_file = self.workdir / "credentials.json"
        if secret_file.exists():
            saved = json.loads(secret_file.read_text())
            self.username, self.password = saved["username"], saved["password"]
        else:
            self.password = self.password or secrets.token_urlsafe(16)
            secret_file.write_text(json.dumps({"username": self.username, "password": self.password}))
            secret_file.chmod(0o600)
        # Few bcrypt rounds: a loopback-only development password checked on every cold request.
        digest = bcrypt.hashpw(self.password.encode(), bcrypt.gensalt(rounds=4)).decode()
        auth = [{"agent": {"mbox": "mailto:relay@peercoach.example"}, "scopes": ["all"], "hash": digest,
                 "username": self.username}]
        (self.workdir / "auth.json").write_text(json.dumps(auth))

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RALPH_")}
        env.update({
            "RALPH_RUNSERVER_BACKEND": "fs",
            "RALPH_AUTH_FILE": str(self.workdir / "auth.json"),
            "RALPH_APP_DIR": str(self.workdir / "app"),
            "RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH": str(self.workdir / "data"),
            "RALPH_RUNSERVER_MAX_SEARCH_HITS_COUNT": "1000",
        })
        # The launcher is this module: make it importable from the LRS's working directory.
        package_root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        return env

    def command(self) -> list[str]:
        return [sys.executable, "-m", "teams_app.devstack", "127.0.0.1", str(self.port)]

    def prepare(self) -> None:
        (self.workdir / "data").mkdir(parents=True, exist_ok=True)

def start_local_lrs(workdir: Path, port: int | None = None) -> LocalLrs:
    workdir = workdir.resolve()  # ralph runs from inside it: relative paths would resolve twice
    workdir.mkdir(parents=True, exist_ok=True)
    lrs = LocalLrs(workdir=workdir, port=port or free_port())
    lrs.write_credentials()
    lrs.start()
    return lrs


def run_ralph(host: str, port: int) -> None:
    from ralph.backends.data.base import BaseOperationType
    from ralph.backends.lrs.fs import FSLRSBackend

    FSLRSBackend.default_operation_type = BaseOperationType.APPEND  # workaround, see the module docstring

    import uvicorn

    uvicorn.run("ralph.api:app", host=host, port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    run_ralph(sys.argv[1], int(sys.argv[2]))
