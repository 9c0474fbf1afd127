"""Benchmark: deliver 20,000 statements to a local ralph LRS through the outbox and relay, against
tincan's ``RemoteLRS.save_statement`` one at a time (the baseline), measured in the same run.

ralph's file backend rereads its whole file on every request, so each request costs more as the LRS
fills. The ratio therefore compares the same work: both deliver the same 20,000 statements into an LRS
that fills from empty. The bridge's time is measured whole; tincan's one-at-a-time time for those 20,000
is measured by sending a sample one at a time at each fill level the bridge passes (before and after
each of its segments) and summing segment by segment (trapezoids; request time grows linearly with the
fill). Sending all 20,000 one at a time would take about half an hour. Also printed: tincan one at a time
and in batches on a nearly empty LRS, i.e. the baseline's best case and ralph's own ceiling.

Outbox overhead on SQLite, the time spent inside ``enqueue`` (serializing tincan statements included):
``enqueue_ms`` is per statement for the 20,000 delivered, queued 100 per transaction (the same
transactions with their commits are printed too). Also printed, median of three runs: business
transactions that write one application row and 1, 10 or 100 statements; for one statement a
transaction, the same INSERT through SQLAlchemy's ``execute`` (what ``enqueue`` did before) is the
baseline measured beside it.

Run: python benchmarks/lrs_delivery.py [--statements 20000] [--segments 8] [--batch-size 500]
The last line printed is one JSON object: bridge_per_s, tincan_per_s, ratio, enqueue_ms (and more).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sqlalchemy import Column, Integer, MetaData, String, Table, insert  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine  # noqa: E402
from tincan import RemoteLRS, Statement  # noqa: E402

from lrs_bridge.client import LrsClient  # noqa: E402
from lrs_bridge.outbox import _SQLITE_INSERT, create_tables, enqueue, status  # noqa: E402
from lrs_bridge.records import Attended, MeetingRef, Person, ProgramRef, RoundRef  # noqa: E402
from lrs_bridge.relay import Relay  # noqa: E402
from lrs_bridge.statements import StatementBuilder, serialize  # noqa: E402
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


# Enqueue writers compared in the overhead measurement: (connection, statements) -> rows inserted.
Writer = Callable[[AsyncConnection, Sequence[Statement]], Awaitable[int]]


async def enqueue_through_sqlalchemy(conn: AsyncConnection, statements: Sequence[Statement]) -> int:
    """The overhead baseline: the same rows, serialized the same way, through SQLAlchemy's ``execute``."""
    now = datetime.now(UTC)
    rows = [{"statement_id": str(s.id), "payload": serialize(s), "status": "queued", "created_at": now,
             "next_attempt_at": now, "attempts": 0} for s in statements]
    result = await conn.execute(_SQLITE_INSERT, rows)  # the outbox's own statement, the old way
    return int(result.rowcount)


async def enqueue_overhead(db: Path, statements: list[Statement], per_tx: int, writer: Writer) -> float:
    """Seconds spent inside ``writer`` (serialize + INSERT) by business transactions that each write
    one application row and ``per_tx`` statements, then commit. Timing the call itself keeps the
    disk's fsync jitter on commit (the same with or without an outbox) out of the figure."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{db}")
    await create_tables(engine)
    async with engine.begin() as conn:
        await conn.run_sync(app_metadata.create_all)
        await writer(conn, make_statements(1, "warm-up"))  # statement cache, first-use costs
    spent = 0.0
    for i in range(0, len(statements), per_tx):
        async with engine.begin() as conn:
            await conn.execute(insert(checkins).values(note="met"))
            start = time.perf_counter()
            if await writer(conn, statements[i:i + per_tx]) != len(statements[i:i + per_tx]):
                raise RuntimeError("the outbox skipped new statements")
            spent += time.perf_counter() - start
    await engine.dispose()
    return spent


async def median_overhead_ms(work: Path, statements: list[Statement], per_tx: int, writer: Writer,
                             runs: int = 3) -> float:
    """Milliseconds per statement, the median of ``runs`` runs, each on a new database file."""
    values = []
    for run in range(runs):
        db = work / f"overhead-{writer.__name__}-{per_tx}-{run}.db"
        values.append(await enqueue_overhead(db, statements, per_tx, writer) / len(statements) * 1000)
    return statistics.median(values)


def segment_bounds(n: int, parts: int) -> list[int]:
    return [round(i * n / parts) for i in range(parts + 1)]


async def deliver_in_segments(lrs: RalphLrs, engine: AsyncEngine, statements: list[Statement], bounds: list[int],
                              args: argparse.Namespace) -> tuple[float, float, float, int, list[float]]:
    """Enqueue (100 per transaction) and relay ``statements`` in the parts between ``bounds``; before
    the first part and after each, time ``args.sample`` statements sent one at a time by tincan.

    Returns (seconds inside ``enqueue``, seconds of those transactions with their commits, relay seconds,
    POSTs, [seconds per tincan request at each bound]).
    """
    parts = len(bounds) - 1
    enqueue_s = with_commit_s = relay_s = 0.0
    posts = fill = 0
    samples: list[float] = []
    async with LrsClient(lrs.endpoint, username=lrs.username, password=lrs.password, timeout_s=120) as client:
        relay = Relay(engine, client, batch_size=args.batch_size, concurrency=args.concurrency)
        for part in range(parts + 1):
            probe = make_statements(args.sample, f"tincan-fill{part}")
            seconds = await asyncio.to_thread(tincan_one_at_a_time, lrs, probe)
            samples.append(seconds / len(probe))
            fill += len(probe)
            print(f"  fill {fill:>6,}: tincan one at a time {seconds / len(probe) * 1000:7.1f} ms a request",
                  flush=True)
            if part == parts:
                break
            chunk = statements[bounds[part]:bounds[part + 1]]
            start = time.perf_counter()
            for i in range(0, len(chunk), 100):
                async with engine.begin() as conn:
                    inside = time.perf_counter()
                    await enqueue(conn, chunk[i:i + 100])
                    enqueue_s += time.perf_counter() - inside
            with_commit_s += time.perf_counter() - start
            start = time.perf_counter()
            report = await relay.run_once()
            relay_s += time.perf_counter() - start
            if report.dead or report.errors or report.delivered != len(chunk):
                raise RuntimeError(f"delivery failed: {report.delivered} of {len(chunk)}, {report.errors[:3]}")
            posts += report.posts
            fill += len(chunk)
    return enqueue_s, with_commit_s, relay_s, posts, samples


def one_at_a_time_seconds(bounds: list[int], per_request: list[float]) -> float:
    """Seconds tincan would need, one request a statement, for the statements between consecutive
    fill levels ``bounds`` (request time measured at each level; linear in between)."""
    return sum((bounds[j + 1] - bounds[j]) * (per_request[j] + per_request[j + 1]) / 2
               for j in range(len(bounds) - 1))


async def main_async(args: argparse.Namespace) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="lrs-bench-"))
    # First, while the process holds only these statements: an application does not keep 20,000
    # statement objects alive, and the garbage collector's passes grow with everything held.
    print("outbox overhead on SQLite (three runs each) ...", flush=True)
    sample = make_statements(args.overhead_sample, "overhead")
    enqueue_ms = {per_tx: await median_overhead_ms(work, sample, per_tx, enqueue) for per_tx in (1, 10, 100)}
    sqlalchemy_ms = await median_overhead_ms(work, sample, 1, enqueue_through_sqlalchemy)

    print(f"building {args.statements:,} + {args.baseline:,} + {args.tincan_batch_sample:,} statements ...",
          flush=True)
    bridge_statements = make_statements(args.statements, "bridge")
    baseline_statements = make_statements(args.baseline, "tincan")
    batch_statements = make_statements(args.tincan_batch_sample, "tincan-batch")

    print("nearly empty LRS: tincan one at a time, then in batches ...", flush=True)
    lrs = start_ralph(work / "ralph-empty")
    try:
        tincan_empty_s = await asyncio.to_thread(tincan_one_at_a_time, lrs, baseline_statements)
        tincan_batch_s = await asyncio.to_thread(tincan_batches, lrs, batch_statements, args.batch_size)
    finally:
        lrs.stop()
    tincan_empty_per_s = len(baseline_statements) / tincan_empty_s
    tincan_batch_per_s = len(batch_statements) / tincan_batch_s

    print(f"new LRS: the bridge delivers {len(bridge_statements):,} in {args.segments} segments, "
          f"tincan sampled at each fill level ...", flush=True)
    n = len(bridge_statements)
    bounds = segment_bounds(n, args.segments)
    lrs = start_ralph(work / "ralph-fill")
    engine = create_async_engine(f"sqlite+aiosqlite:///{work / 'outbox.db'}")
    try:
        await create_tables(engine)
        enqueue_all_s, with_commit_s, bridge_s, posts, per_request = await deliver_in_segments(
            lrs, engine, bridge_statements, bounds, args)
        st = await status(engine)
    finally:
        await engine.dispose()
        lrs.stop()
    if st.delivered != len(bridge_statements):
        raise RuntimeError(f"only {st.delivered} of {len(bridge_statements)} delivered")
    tincan_same_s = one_at_a_time_seconds(bounds, per_request)

    bridge_per_s = n / bridge_s
    tincan_per_s = n / tincan_same_s
    ratio = bridge_per_s / tincan_per_s
    rows = [
        (f"lrs_bridge relay, {args.batch_size} per request ({posts} POSTs)", n, bridge_s, bridge_per_s),
        ("tincan save_statement, 1 per request (baseline; from samples)", n, tincan_same_s, tincan_per_s),
    ]
    print()
    print(f"{'same work: ' + str(n) + ' statements into an empty ' + lrs_version():<62} {'statements':>10} "
          f"{'seconds':>9} {'stmt/s':>9} {'x baseline':>10}")
    for name, count, secs, rate in rows:
        print(f"{name:<62} {count:>10,} {secs:>9.2f} {rate:>9,.0f} {rate / tincan_per_s:>10.1f}")
    print()
    print(f"{'nearly empty LRS (the baseline best case, ralph ceiling)':<62} {'statements':>10} {'seconds':>9} "
          f"{'stmt/s':>9} {'x empty':>10}")
    for name, count, secs in (("tincan save_statement, 1 per request", len(baseline_statements), tincan_empty_s),
                              (f"tincan save_statements, {args.batch_size} per request", len(batch_statements),
                               tincan_batch_s)):
        rate = count / secs
        print(f"{name:<62} {count:>10,} {secs:>9.2f} {rate:>9,.0f} {rate / tincan_empty_per_s:>10.1f}")
    print(f"{'lrs_bridge relay over the whole fill (above)':<62} {n:>10,} {bridge_s:>9.2f} {bridge_per_s:>9,.0f} "
          f"{bridge_per_s / tincan_empty_per_s:>10.1f}")
    print()
    print(f"{'outbox overhead on SQLite, median of 3 (serialize + INSERT)':<62} {'statements':>10} {'ms/stmt':>9}")
    label = "  baseline: SQLAlchemy execute, 1 statement per transaction"
    print(f"{label:<62} {len(sample):>10,} {sqlalchemy_ms:>9.3f}")
    for per_tx, ms in enqueue_ms.items():
        label = f"  enqueue, {per_tx} statement(s) per business transaction"
        print(f"{label:<62} {len(sample):>10,} {ms:>9.3f}")
    enqueue_delivered_ms = enqueue_all_s / n * 1000
    label = f"  enqueue of the {n:,} delivered (100 per transaction)"
    print(f"{label:<62} {n:>10,} {enqueue_delivered_ms:>9.3f}")
    label = "    the same transactions whole, commit included"
    print(f"{label:<62} {n:>10,} {with_commit_s / n * 1000:>9.3f}")
    print()
    print(f"target: ratio >= 50 -> {ratio:.1f} ({'met' if ratio >= 50 else 'NOT met'}); "
          f"enqueue <= 0.2 ms/stmt (the {n:,} delivered) -> {enqueue_delivered_ms:.3f} "
          f"({'met' if enqueue_delivered_ms <= 0.2 else 'NOT met'}); one statement per transaction, "
          f"the worst case: {enqueue_ms[1]:.3f} ({'met' if enqueue_ms[1] <= 0.2 else 'NOT met'})")
    print(f"against the baseline's best case (nearly empty LRS) the bridge is "
          f"{bridge_per_s / tincan_empty_per_s:.1f}x; ralph's own ceiling there (tincan batches) is "
          f"{tincan_batch_per_s / tincan_empty_per_s:.1f}x")
    return {"bridge_per_s": round(bridge_per_s, 1), "tincan_per_s": round(tincan_per_s, 2),
            "ratio": round(ratio, 1), "enqueue_ms": round(enqueue_delivered_ms, 4),
            "enqueue_ms_1_per_tx": round(enqueue_ms[1], 4),
            "tincan_empty_lrs_per_s": round(tincan_empty_per_s, 1),
            "ratio_vs_empty_lrs": round(bridge_per_s / tincan_empty_per_s, 1),
            "tincan_batches_empty_lrs_per_s": round(tincan_batch_per_s, 1),
            "enqueue_ms_10_per_tx": round(enqueue_ms[10], 4),
            "enqueue_ms_100_per_tx": round(enqueue_ms[100], 4),
            "enqueue_ms_1_per_tx_sqlalchemy": round(sqlalchemy_ms, 4)}


def lrs_version() -> str:
    from importlib.metadata import version

    return f"ralph {version('ralph-malph')} (fs)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--statements", type=int, default=20_000)
    parser.add_argument("--segments", type=int, default=8,
                        help="parts the bridge delivers in; tincan is sampled before and after each")
    parser.add_argument("--sample", type=int, default=10,
                        help="statements tincan sends one at a time at each fill level")
    parser.add_argument("--baseline", type=int, default=300,
                        help="statements tincan sends one at a time to the nearly empty LRS")
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
