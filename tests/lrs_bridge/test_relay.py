"""The relay against a scriptable local LRS on SQLite: every answer the LRS can give, leases, shutdown."""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from lrs_bridge.client import LrsClient, PostResult
from lrs_bridge.outbox import enqueue, outbox_table, status
from lrs_bridge.relay import Relay
from lrs_bridge.retry import Backoff
from lrs_bridge.statements import SerializedStatement, StatementBuilder
from tests.fixtures.ralph_lrs import free_port
from tests.lrs_bridge.conftest import sample_records
from tests.lrs_bridge.fake_lrs import FakeLrs

BUILDER = StatementBuilder(activity_base_iri="https://coach.example.org/xapi")


def client_for(lrs: FakeLrs, password: str = "s3cret") -> LrsClient:
    return LrsClient(lrs.endpoint, username="relay", password=password, timeout_s=5)


async def queue(engine: AsyncEngine, items: list[SerializedStatement]) -> None:
    async with engine.begin() as conn:
        await enqueue(conn, items)


def serialized(n: int | None = None) -> list[SerializedStatement]:
    records = sample_records()
    return [BUILDER.build_serialized(r) for r in (records if n is None else records[:n])]


def invalid_statement() -> SerializedStatement:
    sid = uuid.uuid4()
    payload = json.dumps({"id": str(sid), "actor": {"mbox": "mailto:nobody"},
                          "verb": {"id": "http://adlnet.gov/expapi/verbs/attended"},
                          "object": {"id": "https://coach.example.org/xapi/meetings/1"}})
    return SerializedStatement(id=sid, payload=payload)


async def rows(engine: AsyncEngine) -> dict[str, tuple[str, int, int | None, str | None]]:
    async with engine.connect() as conn:
        result = await conn.execute(select(outbox_table.c.statement_id, outbox_table.c.status,
                                           outbox_table.c.attempts, outbox_table.c.last_status,
                                           outbox_table.c.last_error))
        return {r.statement_id: (r.status, r.attempts, r.last_status, r.last_error) for r in result}


async def test_relay_posts_batches_byte_identical_and_marks_sent(sqlite_engine: AsyncEngine,
                                                                 fake_lrs: FakeLrs) -> None:
    items = serialized(7)
    await queue(sqlite_engine, items)
    async with client_for(fake_lrs) as client:
        report = await Relay(sqlite_engine, client, batch_size=3).run_once()
    assert (report.posts, report.delivered, report.dead) == (3, 7, 0)
    assert fake_lrs.posts[0] == ("[" + ",".join(i.payload for i in items[:3]) + "]").encode()
    assert set(fake_lrs.stored) == {str(i.id) for i in items}
    assert {v[0] for v in (await rows(sqlite_engine)).values()} == {"sent"}
    st = await status(sqlite_engine)
    assert (st.queued, st.delivered, st.oldest_queued_age_s) == (0, 7, None)


async def test_relay_retries_on_503_then_marks_sent(sqlite_engine: AsyncEngine, fake_lrs: FakeLrs) -> None:
    items = serialized(4)
    await queue(sqlite_engine, items)
    fake_lrs.script.append((503, "maintenance", {}))
    async with client_for(fake_lrs) as client:
        relay = Relay(sqlite_engine, client, batch_size=10, backoff_base_s=0.05, backoff_max_s=0.1)
        first = await relay.run_once()
        assert (first.delivered, first.deferred) == (0, 4)
        assert {v[:3] for v in (await rows(sqlite_engine)).values()} == {("queued", 1, 503)}
        await asyncio.sleep(0.15)
        second = await relay.run_once()
    assert second.delivered == 4
    assert fake_lrs.posts[0] == fake_lrs.posts[1]  # the retry is byte-identical
    assert {v[0] for v in (await rows(sqlite_engine)).values()} == {"sent"}


async def test_relay_honours_retry_after_on_429(sqlite_engine: AsyncEngine, fake_lrs: FakeLrs) -> None:
    await queue(sqlite_engine, serialized(2))
    fake_lrs.script.append((429, "too many", {"Retry-After": "30"}))
    async with client_for(fake_lrs) as client:
        relay = Relay(sqlite_engine, client, backoff_base_s=0.01, backoff_max_s=60)
        await relay.run_once()
        again = await relay.run_once()  # nothing is due yet
    assert again.posts == 0
    async with sqlite_engine.connect() as conn:
        due = (await conn.execute(select(outbox_table.c.next_attempt_at))).scalars().all()
    wait = [(d.replace(tzinfo=UTC) - datetime.now(UTC)).total_seconds() for d in due]
    assert all(28 < w <= 31 for w in wait)


async def test_relay_splits_batch_to_isolate_refused_statement(sqlite_engine: AsyncEngine,
                                                               fake_lrs: FakeLrs) -> None:
    good = serialized(6)
    bad = invalid_statement()
    await queue(sqlite_engine, [*good[:4], bad, *good[4:]])
    async with client_for(fake_lrs) as client:
        report = await Relay(sqlite_engine, client, batch_size=50).run_once()
    assert (report.delivered, report.dead) == (6, 1)
    assert set(fake_lrs.stored) == {str(i.id) for i in good}
    state = (await rows(sqlite_engine))[str(bad.id)]
    assert state[0] == "dead" and state[2] == 422 and "not a valid email address" in (state[3] or "")
    assert report.posts <= 1 + 2 * 3 + 2  # bisection, not one POST per statement


def attended(n: int) -> list[SerializedStatement]:
    from lrs_bridge.records import Attended, MeetingRef
    from tests.lrs_bridge.conftest import ALICE, PROGRAM, ROUND

    ts = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
    return [BUILDER.build_serialized(Attended(event_key=f"{uuid.uuid4()}", timestamp=ts, actor=ALICE, program=PROGRAM,
                                              round=ROUND, meeting=MeetingRef(f"m{i}"))) for i in range(n)]


@pytest.mark.parametrize("position", [0, 77, 127, 199])
async def test_relay_isolates_one_refused_statement_in_log2_posts_by_bisection(
        sqlite_engine: AsyncEngine, fake_lrs: FakeLrs, position: int) -> None:
    fake_lrs.name_refused_positions = False  # the LRS does not say which one: pure bisection
    items = attended(199)
    bad = invalid_statement()
    items.insert(position, bad)
    await queue(sqlite_engine, items)
    async with client_for(fake_lrs) as client:
        report = await Relay(sqlite_engine, client, batch_size=200).run_once()
    assert (report.delivered, report.dead) == (199, 1)
    assert (await rows(sqlite_engine))[str(bad.id)][:3] == ("dead", 1, 422)
    # The whole batch, then at most two POSTs per halving (8 halvings for 200); when the first half goes
    # through, the second is split without being sent whole.
    assert report.posts == len(fake_lrs.posts)
    assert report.posts <= 1 + 2 * math.ceil(math.log2(200))
    if position == 199:
        assert report.posts <= 1 + math.ceil(math.log2(200))  # every left half passes: one POST per level


async def test_relay_uses_the_positions_the_lrs_names_to_isolate_in_a_few_posts(
        sqlite_engine: AsyncEngine, fake_lrs: FakeLrs) -> None:
    items = attended(195)
    bad = [invalid_statement() for _ in range(5)]
    for i, statement in enumerate(bad):
        items.insert(13 + i * 37, statement)
    await queue(sqlite_engine, items)
    async with client_for(fake_lrs) as client:
        report = await Relay(sqlite_engine, client, batch_size=200).run_once()
    assert (report.delivered, report.dead) == (195, 5)
    assert report.posts == 2  # the batch, then the rest in one request: the named five are the refused ones
    for statement in bad:
        state = (await rows(sqlite_engine))[str(statement.id)]
        assert state[0] == "dead" and state[2] == 422 and "not a valid email address" in (state[3] or "")


async def test_relay_dead_letters_409_conflict_and_delivers_the_rest(sqlite_engine: AsyncEngine,
                                                                     fake_lrs: FakeLrs) -> None:
    items = serialized(3)
    clash = json.loads(items[1].payload)
    clash["verb"]["display"] = {"en": "something else"}
    fake_lrs.stored[clash["id"]] = clash  # the LRS already holds a different statement with this id
    await queue(sqlite_engine, items)
    async with client_for(fake_lrs) as client:
        report = await Relay(sqlite_engine, client).run_once()
    assert (report.delivered, report.dead) == (2, 1)
    state = (await rows(sqlite_engine))[str(items[1].id)]
    assert state[0] == "dead" and state[2] == 409 and "Differing statements" in (state[3] or "")


async def test_relay_splits_after_repeated_server_errors(sqlite_engine: AsyncEngine,
                                                         fake_lrs: FakeLrs) -> None:
    await queue(sqlite_engine, serialized(4))
    fake_lrs.script.extend([(500, "boom", {}), (500, "boom", {})])
    async with client_for(fake_lrs) as client:
        relay = Relay(sqlite_engine, client, backoff_base_s=0.01, backoff_max_s=0.02,
                      split_after_server_errors=2)
        assert (await relay.run_once()).deferred == 4
        await asyncio.sleep(0.05)
        report = await relay.run_once()  # second 500 on 4 rows -> split; halves go through
    assert report.delivered == 4 and report.posts == 3
    assert len(fake_lrs.stored) == 4


async def test_relay_defers_and_explains_refused_credentials(sqlite_engine: AsyncEngine,
                                                             fake_lrs: FakeLrs) -> None:
    await queue(sqlite_engine, serialized(2))
    async with client_for(fake_lrs, password="wrong") as client:
        report = await Relay(sqlite_engine, client).run_once()
    assert (report.delivered, report.dead, report.deferred) == (0, 0, 2)
    assert "refused our credentials (401)" in report.errors[0]
    assert {v[0] for v in (await rows(sqlite_engine)).values()} == {"queued"}


async def test_relay_defers_when_lrs_is_unreachable(sqlite_engine: AsyncEngine) -> None:
    await queue(sqlite_engine, serialized(2))
    async with LrsClient(f"http://127.0.0.1:{free_port()}/xAPI/", timeout_s=2) as client:
        report = await Relay(sqlite_engine, client).run_once()
    assert (report.posts, report.deferred) == (1, 2)
    assert {(v[0], v[1], v[2]) for v in (await rows(sqlite_engine)).values()} == {("queued", 1, None)}


async def test_a_claimed_batch_is_not_claimed_again_until_its_lease_expires(sqlite_engine: AsyncEngine,
                                                                            fake_lrs: FakeLrs) -> None:
    await queue(sqlite_engine, serialized(5))
    async with client_for(fake_lrs) as client:
        first = Relay(sqlite_engine, client, batch_size=3, lease_s=0.3)
        second = Relay(sqlite_engine, client, batch_size=10, lease_s=0.3)
        _, a = await first._claim()
        _, b = await second._claim()
        assert len(a) == 3 and len(b) == 2 and not {r.id for r in a} & {r.id for r in b}
        _, c = await second._claim()
        assert c == []
        await asyncio.sleep(0.35)
        _, d = await second._claim()  # the first relay "died": its rows come back after the lease
    assert sorted(r.id for r in d) == sorted(r.id for r in a + b)


async def test_run_forever_delivers_new_statements_and_stops_on_event(sqlite_engine: AsyncEngine,
                                                                      fake_lrs: FakeLrs) -> None:
    stop = asyncio.Event()
    async with client_for(fake_lrs) as client:
        relay = Relay(sqlite_engine, client, poll_interval_s=0.05)
        task = asyncio.create_task(relay.run_forever(stop))
        items = serialized(3)
        await queue(sqlite_engine, items)
        for _ in range(100):
            if len(fake_lrs.stored) == 3:
                break
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(task, timeout=2)
    assert set(fake_lrs.stored) == {str(i.id) for i in items}


def test_relay_backoff_uses_the_shared_policy_with_its_cap() -> None:
    relay = Relay.__new__(Relay)
    relay.backoff = Backoff(base_s=1.0, cap_s=60.0, retry_after_cap_s=60.0)
    assert 0.0 <= relay.backoff_s(0) <= 1.0
    assert all(relay.backoff_s(3) <= 8.0 for _ in range(50))
    assert max(relay.backoff_s(20) for _ in range(200)) > 30.0  # grows to the cap, not beyond
    assert all(relay.backoff_s(20) <= 60.0 for _ in range(50))
    assert relay.backoff_s(0, retry_after_s=12) >= 12
    assert relay.backoff_s(0, retry_after_s=3600) <= 60.0


async def test_run_forever_survives_database_errors(tmp_path: Path, fake_lrs: FakeLrs,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'no-tables.db'}")  # no outbox table
    stop = asyncio.Event()
    async with client_for(fake_lrs) as client:
        relay = Relay(engine, client, poll_interval_s=0.02)
        task = asyncio.create_task(relay.run_forever(stop))
        await asyncio.sleep(0.15)
        assert not task.done()  # still running despite every round failing
        stop.set()
        await asyncio.wait_for(task, timeout=2)
    await engine.dispose()
    assert "delivery round failed" in caplog.text and "lrs_outbox" in caplog.text


def test_relay_rejects_bad_arguments(sqlite_engine: AsyncEngine) -> None:
    client = LrsClient("http://127.0.0.1:1/xAPI/")
    with pytest.raises(ValueError, match="batch_size"):
        Relay(sqlite_engine, client, batch_size=0)
    with pytest.raises(ValueError, match="concurrency"):
        Relay(sqlite_engine, client, concurrency=0)


class StopAfterFirstPost(LrsClient):
    """The real client; the shutdown signal arrives while the first batch is on the wire."""

    def __init__(self, lrs: FakeLrs, stop: asyncio.Event) -> None:
        super().__init__(lrs.endpoint, username="relay", password="s3cret", timeout_s=5)
        self.stop = stop

    async def post_statements(self, payloads: Sequence[str]) -> PostResult:
        result = await super().post_statements(payloads)
        self.stop.set()
        return result


async def test_relay_finishes_the_batch_in_flight_on_stop_and_claims_no_other(sqlite_engine: AsyncEngine,
                                                                             fake_lrs: FakeLrs) -> None:
    items = serialized(5)
    await queue(sqlite_engine, items)
    stop = asyncio.Event()
    async with StopAfterFirstPost(fake_lrs, stop) as client:
        report = await Relay(sqlite_engine, client, batch_size=2, lease_s=600).run_once(stop)
    assert (report.posts, report.delivered) == (1, 2)
    async with sqlite_engine.connect() as conn:
        left = (await conn.execute(select(outbox_table.c.status, outbox_table.c.claim_token))).all()
    assert sorted(r.status for r in left) == ["queued"] * 3 + ["sent"] * 2
    assert all(r.claim_token is None for r in left)  # nothing claimed and abandoned


class HangingLrs(LrsClient):
    """An LRS that takes the request and never answers (until the test lets it)."""

    def __init__(self) -> None:
        super().__init__(f"http://127.0.0.1:{free_port()}/xAPI/", timeout_s=5)
        self.posted = asyncio.Event()

    async def post_statements(self, payloads: Sequence[str]) -> PostResult:
        self.posted.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_relay_cancelled_mid_post_releases_its_lease_so_the_rows_are_taken_at_once(
        sqlite_engine: AsyncEngine, fake_lrs: FakeLrs) -> None:
    items = serialized(3)
    await queue(sqlite_engine, items)
    async with HangingLrs() as hanging:
        task = asyncio.create_task(Relay(sqlite_engine, hanging, lease_s=600).run_once())
        await asyncio.wait_for(hanging.posted.wait(), timeout=5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    async with client_for(fake_lrs) as client:  # the next relay (after restart) does not wait 600 s
        report = await Relay(sqlite_engine, client, lease_s=600).run_once()
    assert report.delivered == 3 and set(fake_lrs.stored) == {str(i.id) for i in items}
    assert len(fake_lrs.posts) == 1
