"""Due rounds start by themselves; two servers on one PostgreSQL database run a due round exactly once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa

from teams_app.adapters.clock import FixedClock, SystemClock
from teams_app.adapters.db import tables as t
from teams_app.adapters.db.migrate import upgrade
from teams_app.adapters.db.uow import SqlUnitOfWorkFactory, make_engine
from teams_app.devstack import free_port
from teams_app.domain.model import Profile
from teams_app.service.messagebus import MessageBus
from teams_app.service.use_cases import CoachingService, ParticipantInput


async def seed_due_program(url: str, people: int = 10) -> CoachingService:
    engine = make_engine(url)
    await upgrade(engine)
    clock = SystemClock()
    service = CoachingService(SqlUnitOfWorkFactory(engine), MessageBus(), clock)
    await service.create_program("Due now", "peer_pairs", "weekly", next_round_at=clock.now() - timedelta(seconds=1))
    await service.import_participants("Due now", [
        ParticipantInput(f"p{i}@example.com", f"P{i}", Profile.build(time_zone="UTC")) for i in range(people)])
    return service


async def count_rounds(url: str) -> int:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(sa.select(sa.func.count()).select_from(t.rounds))).scalar_one())
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_two_serve_processes_run_a_due_round_exactly_once(postgres_url: str, tmp_path: Path) -> None:
    await seed_due_program(postgres_url)
    env = {**os.environ, "PEERCOACH_DB__URL": postgres_url, "PEERCOACH_BOT__DEV_MODE": "true",
           "PEERCOACH_SCHEDULER__INTERVAL_S": "0.1", "PEERCOACH_LOG_LEVEL": "INFO",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    ports = [free_port(), free_port()]
    servers = [subprocess.Popen([sys.executable, "-m", "teams_app.entrypoints.cli", "serve", "--port", str(port)],
                                env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
               for port in ports]
    try:
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 60
            healthy: set[int] = set()
            while len(healthy) < 2 and time.monotonic() < deadline:
                for port in ports:
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                            if response.status == 200:
                                healthy.add(port)
                    except aiohttp.ClientError:
                        pass
                await asyncio.sleep(0.1)
            assert healthy == set(ports), "both servers should come up"
        deadline = time.monotonic() + 30
        while await count_rounds(postgres_url) == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(2.0)  # twenty more scheduler ticks in each server
        assert await count_rounds(postgres_url) == 1
    finally:
        for server in servers:
            server.terminate()
        logs = [server.communicate(timeout=20)[0].decode() for server in servers]
    assert all("Traceback" not in log for log in logs), logs
    assert sum(log.count("started round 1 of Due now") for log in logs) == 1


@pytest.mark.postgres
async def test_concurrent_claims_in_one_process_run_the_round_once(postgres_url: str) -> None:
    await seed_due_program(postgres_url)
    engine = make_engine(postgres_url)
    services = [CoachingService(SqlUnitOfWorkFactory(engine), MessageBus(), SystemClock()) for _ in range(4)]
    results = await asyncio.gather(*(s.run_due_rounds() for s in services))
    await engine.dispose()
    assert sum(len(r) for r in results) == 1
    assert await count_rounds(postgres_url) == 1


async def test_scheduler_worker_starts_a_due_round_on_sqlite(tmp_path: Path) -> None:
    from teams_app.service.workers import scheduler_worker

    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    service = await seed_due_program(url, people=4)
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler_worker(service, 0.05)(stop))
    deadline = time.monotonic() + 10
    while await count_rounds(url) == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert await count_rounds(url) == 1


def test_fixed_clock_refuses_naive_times() -> None:
    from datetime import datetime

    with pytest.raises(ValueError):
        FixedClock(datetime(2026, 1, 1))
