"""Starting real ``peercoach serve`` / gunicorn processes for the deployment tests, and waiting for them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]


def server_env(db_url: str, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEERCOACH_")}
    env.update({"PEERCOACH_DB__URL": db_url, "PEERCOACH_BOT__DEV_MODE": "true", "PEERCOACH_LOG_LEVEL": "INFO",
                "PEERCOACH_SCHEDULER__ENABLED": "false", "PYTHONPATH": str(ROOT), **settings})
    return env


def start_serve(port: int, env: dict[str, str], cwd: Path, executable: str = sys.executable) -> subprocess.Popen[bytes]:
    return subprocess.Popen([executable, "-m", "teams_app.entrypoints.cli", "serve", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


async def wait_status(url: str, *, status: int = 200, timeout_s: float = 60.0,
                      process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                raise AssertionError(f"server exited with {process.returncode}:\n{output}")
            try:
                async with http.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
                    if response.status == status:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} did not answer {status} within {timeout_s} s")


async def terminate(process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> tuple[int, float, str]:
    """SIGTERM; returns (exit code, seconds until exit, output)."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    output = await asyncio.to_thread(process.communicate, timeout=timeout_s)
    return process.returncode, time.monotonic() - started, output[0].decode()


def stop(process: subprocess.Popen[bytes]) -> str:
    if process.poll() is None:
        process.kill()
    out, _ = process.communicate(timeout=30)
    return out.decode()
