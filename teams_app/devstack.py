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
class LocalLrs:
    """A ralph LRS process on loopback with the file backend in ``workdir``."""

    workdir: Path
    port: int
    username: str = "peercoach"
    password: str = ""
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/xAPI/"

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

    def start(self, timeout_s: float = 30.0) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        (self.workdir / "data").mkdir(parents=True, exist_ok=True)
        with open(self.workdir / "ralph.log", "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "teams_app.devstack", "127.0.0.1", str(self.port)],
                cwd=self.workdir, env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        url = f"http://127.0.0.1:{self.port}/__heartbeat__"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ralph exited with {self.process.returncode}: "
                                   f"{(self.workdir / 'ralph.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"ralph did not answer on {url} within {timeout_s}s")

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
