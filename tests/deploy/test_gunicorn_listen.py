"""The gunicorn entry point keeps dev mode (unauthenticated) on loopback, as ``peercoach serve`` does."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from teams_app.devstack import free_port
from teams_app.entrypoints.gunicorn import bind_host, on_starting
from tests.deploy.processes import ROOT, server_env

PRODUCTION = {"PEERCOACH_BOT__DEV_MODE": "false", "PEERCOACH_BOT__APP_ID": "app",
              "PEERCOACH_BOT__APP_PASSWORD": "s3cret", "PEERCOACH_BOT__APP_TENANT_ID": "tenant"}


@dataclass
class Config:
    bind: list[str] = field(default_factory=list)


@dataclass
class Arbiter:
    """What gunicorn hands ``on_starting``: the arbiter, whose config lists the bind addresses."""

    cfg: Config


@pytest.mark.parametrize(("address", "host"), [
    ("0.0.0.0:3978", "0.0.0.0"), ("127.0.0.1:8000", "127.0.0.1"), ("[::1]:3978", "::1"), ("[::]:80", "::"),
    ("localhost:3978", "localhost"), ("10.0.0.5", "10.0.0.5"), ("unix:/run/peercoach.sock", None),
    ("fd://3", "fd://3"),
])
def test_bind_host_reads_every_gunicorn_address_form(address: str, host: str | None) -> None:
    assert bind_host(address) == host


def test_dev_mode_refuses_a_bind_beyond_loopback_before_gunicorn_binds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PEERCOACH_BOT__DEV_MODE", "true")
    monkeypatch.delenv("PEERCOACH_BOT__APP_ID", raising=False)
    on_starting(Arbiter(Config(["127.0.0.1:3978", "[::1]:3978", "localhost:1", "unix:/tmp/p.sock"])))
    for address in ("0.0.0.0:3978", "192.168.1.20:3978", "[::]:3978", "fd://3"):
        with pytest.raises(SystemExit, match="listens only on loopback"):
            on_starting(Arbiter(Config(["127.0.0.1:3978", address])))


def test_production_may_bind_every_interface(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in PRODUCTION.items():
        monkeypatch.setenv(key, value)
    on_starting(Arbiter(Config(["0.0.0.0:3978", "[::]:3978"])))


def test_bad_settings_stop_gunicorn_with_the_reason_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PEERCOACH_LOG_LEVEL", "LOUD")
    with pytest.raises(SystemExit, match="PEERCOACH_LOG_LEVEL"):
        on_starting(Arbiter(Config(["127.0.0.1:3978"])))


@pytest.mark.slow
def test_gunicorn_in_dev_mode_exits_on_a_public_bind_without_listening(tmp_path: Path) -> None:
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    assert gunicorn, "gunicorn is in the dev and server extras"
    port = free_port()
    env = server_env(f"sqlite+aiosqlite:///{tmp_path / 'g.db'}")
    done = subprocess.run([gunicorn, "-c", "python:teams_app.entrypoints.gunicorn", "-b", f"0.0.0.0:{port}",
                           "teams_app.entrypoints.gunicorn:app"], env=env, cwd=ROOT, capture_output=True,
                          timeout=60)
    output = (done.stdout + done.stderr).decode(errors="replace")
    assert done.returncode == 1, output
    assert "listens only on loopback" in output and "Traceback" not in output
    assert "Listening at" not in output


def test_default_bind_is_loopback_in_dev_mode_and_every_interface_in_production(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from teams_app.entrypoints.gunicorn import _default_host

    monkeypatch.setenv("PEERCOACH_BOT__DEV_MODE", "true")
    monkeypatch.delenv("PEERCOACH_BOT__APP_ID", raising=False)
    assert _default_host() == "127.0.0.1"
    for key, value in PRODUCTION.items():
        monkeypatch.setenv(key, value)
    assert _default_host() == "0.0.0.0"
    monkeypatch.setenv("PEERCOACH_LOG_LEVEL", "LOUD")  # unreadable settings: on_starting reports them
    assert _default_host() == "127.0.0.1"
