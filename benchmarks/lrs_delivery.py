"""Benchmark: deliver 20,000 statements to a local ralph LRS through the outbox and relay, against
tincan's ``RemoteLRS.save_statement`` one at a time (the baseline), measured in the same run.

Also measures the outbox overhead on SQLite: the extra time a business transaction spends because it
enqueues its statements (serialization included), compared with the same transactions without them.

Order matters for fairness: the baseline runs first, against an almost empty LRS (ralph's file backend
gets slower as its file grows), so the ratio is, if anything, conservative.

Run: python benchmarks/lrs_delivery.py [--statements 20000] [--baseline 300] [--batch-size 500]
The last line printed is one JSON object: bridge_per_s, tincan_per_s, ratio, enqueue_ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sqlalchemy import Column, Integer, MetaData, String, Table, insert, text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine  # noqa: E402
from tincan import RemoteLRS, Statement  # noqa: E402

from lrs_bridge.client import LrsClient  # noqa: E402
from lrs_bridge.outbox import create_tables, enqueue, status  # noqa: E402
from lrs_bridge.records import Attended, MeetingRef, Person, ProgramRef, RoundRef  # noqa: E402
from lrs_bridge.relay import Relay  # noqa: E402
from lrs_bridge.statements import StatementBuilder  # noqa: E402
from teams_app.devstack import LocalLrs as RalphLrs  # noqa: E402
from teams_app.devstack import start_local_lrs as start_ralph  # noqa: E402

logger = logging.getLogger("benchmarks.lrs_delivery")

BUILDER = StatementBuilder(activity_base_iri="https://coach.example.org/xapi")
PROGRAM = ProgramRef("bench", "Benchmark program")
ROUND = RoundRef("bench", 1)

app_metadata = MetaData()
checkins = Table("bench_checkins", app_metadata, Column("id", Integer, primary_key=True),
                 Column("note", String(40)))


def make_statements(n: int, tag: str) -> list[Statement]:
    ts = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
    reg = uuid.uuid4()
    out = []
    for i in range(n):
        person = Person(f"p{i % 997}@example.org", f"Person {i % 997}")
        record = Attended(event_key=f"{tag}:{reg}:{i}", timestamp=ts, actor=person, program=PROGRAM,
                          round=ROUND, registration=reg, meeting=MeetingRef(f"m{i}", "Coaching session"))
        out.append(BUILDER.build(record))
    return out


def tincan_one_at_a_time(lrs: RalphLrs, statements: list[Statement]) -> float:
    remote = RemoteLRS(endpoint=lrs.endpoint, version="1.0.3", username=lrs.username, password=lrs.password)
    start = time.perf_counter()
    for statement in statements:
        response = remote.save_statement(statement)
        if not response.success:
            raise RuntimeError(f"tincan save_statement failed: {response.response.status} {response.data!r}")
    return time.perf_counter() - start


def tincan_batches(lrs: RalphLrs, statements: list[Statement], batch: int) -> float:
    remote = RemoteLRS(endpoint=lrs.endpoint, version="1.0.3", username=lrs.username, password=lrs.password)
    start = time.perf_counter()
    for i in range(0, len(statements), batch):
        response = remote.save_statements(statements[i:i + batch])
        if not response.success:
            raise RuntimeError(f"tincan save_statements failed: {response.response.status}")
    return time.perf_counter() - start


async def round_trip_floor(db: Path, n: int) -> float:
    """Seconds for ``n`` empty round trips (SELECT 1) placed where ``enqueue`` sits in the business
    transaction (after its own write): the cost of one hop to aiosqlite's thread at this moment."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{db}")
    async with engine.begin() as conn:
        await conn.run_sync(app_metadata.create_all)
    spent = 0.0
    for _ in range(n):
        async with engine.begin() as conn:
            await conn.execute(insert(checkins).values(note="met"))
            start = time.perf_counter()
            await conn.execute(text("SELECT 1"))
            spent += time.perf_counter() - start
    await engine.dispose()
    return spent


async def enqueue_overhead(db: Path, statements: list[Statement], per_tx: int) -> float:
    """Seconds spent inside ``enqueue`` (serialize + INSERT) by business transactions that each write
    one application row and ``per_tx`` statements, then commit. Timing the call itself keeps the
    disk's fsync jitter on commit (the same with or without an outbox) out of the figure."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{db}")
    await create_tables(engine)
    async with engine.begin() as conn:
        await conn.run_sync(app_metadata.create_all)
        await enqueue(conn, make_statements(1, "warm-up"))  # statement cache, first-use costs
    spent = 0.0
    for i in range(0, len(statements), per_tx):
        async with engine.begin() as conn:
            await conn.execute(insert(checkins).values(note="met"))
            start = time.perf_counter()
            await enqueue(conn, statements[i:i + per_tx])
            spent += time.perf_counter() - start
    await engine.dispose()
    return spent


async def bridge_delivery(lrs: RalphLrs, engine: AsyncEngine, batch_size: int,
                          concurrency: int) -> tuple[float, int]:
    async with LrsClient(lrs.endpoint, username=lrs.username, password=lrs.password, timeout_s=120) as client:
        relay = Relay(engine, client, batch_size=batch_size, concurrency=concurrency)
        start = time.perf_counter()
        report = await relay.run_once()
        elapsed = time.perf_counter() - start
    if report.dead or report.errors:
        raise RuntimeError(f"delivery failed: {report.errors[:3]}")
    return elapsed, report.posts


async def main_async(args: argparse.Namespace) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="lrs-bench-"))
    print(f"building {args.statements:,} + {args.baseline:,} + {args.tincan_batch_sample:,} statements ...",
          flush=True)
    bridge_statements = make_statements(args.statements, "bridge")
    baseline_statements = make_statements(args.baseline, "tincan")
    batch_statements = make_statements(args.tincan_batch_sample, "tincan-batch")
    lrs = start_ralph(work / "ralph")
    try:
        print("tincan RemoteLRS.save_statement, one at a time ...", flush=True)
        tincan_s = await asyncio.to_thread(tincan_one_at_a_time, lrs, baseline_statements)
        tincan_per_s = len(baseline_statements) / tincan_s
        print("tincan RemoteLRS.save_statements, batches ...", flush=True)
        tincan_batch_s = await asyncio.to_thread(tincan_batches, lrs, batch_statements, args.batch_size)
        tincan_batch_per_s = len(batch_statements) / tincan_batch_s

        print("outbox overhead on SQLite ...", flush=True)
        sample = bridge_statements[: args.overhead_sample]
        enqueue_ms = {}
        for per_tx in (1, 10, 100):
            spent = await enqueue_overhead(work / f"overhead{per_tx}.db", sample, per_tx)
            enqueue_ms[per_tx] = spent / len(sample) * 1000
        floor_ms = await round_trip_floor(work / "floor.db", len(sample)) / len(sample) * 1000

        print(f"enqueue {len(bridge_statements):,} statements and relay them, in two halves ...", flush=True)
        engine = create_async_engine(f"sqlite+aiosqlite:///{work / 'outbox.db'}")
        await create_tables(engine)
        half = len(bridge_statements) // 2
        enqueue_all_s = bridge_s = 0.0
        posts = 0
        tincan_samples = [(len(baseline_statements), tincan_s)]
        for part, statements in enumerate((bridge_statements[:half], bridge_statements[half:])):
            start = time.perf_counter()
            for i in range(0, len(statements), 100):
                async with engine.begin() as conn:
                    await enqueue(conn, statements[i:i + 100])
            enqueue_all_s += time.perf_counter() - start
            part_s, part_posts = await bridge_delivery(lrs, engine, args.batch_size, args.concurrency)
            bridge_s += part_s
            posts += part_posts
            # tincan one at a time again, with the LRS as full as the bridge left it (middle, then end).
            print(f"tincan RemoteLRS.save_statement at LRS fill point {part + 1} of 2 ...", flush=True)
            late = make_statements(args.baseline_late, f"tincan-late{part}")
            tincan_samples.append((len(late), await asyncio.to_thread(tincan_one_at_a_time, lrs, late)))
        st = await status(engine)
        await engine.dispose()
        if st.delivered != len(bridge_statements):
            raise RuntimeError(f"only {st.delivered} of {len(bridge_statements)} delivered")
        bridge_per_s = len(bridge_statements) / bridge_s
        # Same conditions: mean per-request time of the start, middle and end samples (trapezoid rule
        # over the fill range the bridge went through; sample 0 was taken on a nearly empty LRS).
        per_request = [secs / n for n, secs in tincan_samples]
        mean_request_s = (per_request[0] / 2 + per_request[1] + per_request[2] / 2) / 2
        tincan_same_fill_per_s = 1 / mean_request_s
    finally:
        lrs.stop()

    ratio = bridge_per_s / tincan_per_s
    rows = [
        ("tincan save_statement, 1 per request (baseline)", len(baseline_statements), tincan_s, tincan_per_s),
        (f"tincan save_statements, {args.batch_size} per request", len(batch_statements), tincan_batch_s,
         tincan_batch_per_s),
        (f"lrs_bridge relay, {args.batch_size} per request ({posts} POSTs)", len(bridge_statements), bridge_s,
         bridge_per_s),
        ("tincan save_statement, 1 per request, LRS half full", tincan_samples[1][0], tincan_samples[1][1],
         tincan_samples[1][0] / tincan_samples[1][1]),
        ("tincan save_statement, 1 per request, LRS full", tincan_samples[2][0], tincan_samples[2][1],
         tincan_samples[2][0] / tincan_samples[2][1]),
    ]
    print()
    print(f"{'delivery to ralph ' + lrs_version():<58} {'statements':>10} {'seconds':>9} {'stmt/s':>9} "
          f"{'x baseline':>10}")
    for name, n, secs, rate in rows:
        print(f"{name:<58} {n:>10,} {secs:>9.2f} {rate:>9,.0f} {rate / tincan_per_s:>10.1f}")
    print()
    print(f"{'outbox overhead on SQLite (serialize + INSERT in the caller tx)':<58} {'statements':>10} "
          f"{'ms/stmt':>9}")
    print(f"{'  reference: an empty round trip (SELECT 1), same place':<58} {len(sample):>10,} "
          f"{floor_ms:>9.3f}")
    for per_tx, ms in enqueue_ms.items():
        label = f"  {per_tx} statement(s) per business transaction"
        print(f"{label:<58} {len(sample):>10,} {ms:>9.3f}")
    label = f"  enqueue of the {len(bridge_statements):,} (100 per transaction, incl. commit)"
    print(f"{label:<58} {len(bridge_statements):>10,} {enqueue_all_s / len(bridge_statements) * 1000:>9.3f}")
    print("ralph's file backend reads its whole file on every request, so every request gets slower as the")
    print("LRS fills. ratio = bridge / tincan one at a time on the nearly empty LRS: tincan's best case.")
    same_fill_ratio = bridge_per_s / tincan_same_fill_per_s
    print(f"Under the same fill (mean of the empty, half and full samples) tincan makes "
          f"{tincan_same_fill_per_s:.1f} statements/s: the bridge is {same_fill_ratio:.0f}x that.")
    print()
    print(f"target: ratio >= 50 -> {ratio:.1f} ({'met' if ratio >= 50 else 'NOT met'}); "
          f"enqueue <= 0.2 ms/stmt (1 per transaction, the worst case) -> {enqueue_ms[1]:.3f} "
          f"({'met' if enqueue_ms[1] <= 0.2 else 'NOT met'})")
    return {"bridge_per_s": round(bridge_per_s, 1), "tincan_per_s": round(tincan_per_s, 1),
            "ratio": round(ratio, 1), "enqueue_ms": round(enqueue_ms[1], 4)}


def lrs_version() -> str:
    from importlib.metadata import version

    return f"(ralph {version('ralph-malph')}, fs backend)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--statements", type=int, default=20_000)
    parser.add_argument("--baseline", type=int, default=300, help="statements sent one at a time by tincan")
    parser.add_argument("--baseline-late", type=int, default=20,
                        help="statements sent one at a time by tincan at the middle and at the end")
    parser.add_argument("--tincan-batch-sample", type=int, default=2_000)
    parser.add_argument("--overhead-sample", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=1, help="relay workers (POSTs in flight)")
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    result = asyncio.run(main_async(args))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
