"""The outbox and relays on a real PostgreSQL (own database per test): SKIP LOCKED claims share the work."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from lrs_bridge.client import LrsClient
from lrs_bridge.outbox import create_tables, enqueue, outbox_table, status
from lrs_bridge.relay import Relay
from lrs_bridge.statements import StatementBuilder
from tests.fixtures.ralph_lrs import RalphLrs
from tests.lrs_bridge.conftest import sample_records
from tests.lrs_bridge.lrs_proxy import LrsProxy
from tests.lrs_bridge.test_ralph_lrs import attended_records, copies_in_lrs

pytestmark = pytest.mark.postgres

BUILDER = StatementBuilder(activity_base_iri="https://coach.example.org/xapi")


async def test_outbox_on_postgres_is_transactional_and_idempotent(pg_url: str) -> None:
    engine = create_async_engine(pg_url)
    try:
        await create_tables(engine)
        statements = [BUILDER.build(r) for r in sample_records()]
        sessions = async_sessionmaker(engine, class_=AsyncSession)
        with pytest.raises(RuntimeError):
            async with sessions() as session, session.begin():
                await enqueue(session, statements)
                raise RuntimeError("rolled back")
        assert (await status(engine)).queued == 0
        async with sessions() as session, session.begin():
            assert await enqueue(session, statements) == len(statements)
        async with engine.begin() as conn:
            assert await enqueue(conn, statements) == 0
        st = await status(engine)
        assert st.queued == len(statements) and st.oldest_queued_age_s is not None
    finally:
        await engine.dispose()


async def test_two_relays_on_postgres_deliver_5000_with_no_duplicate_posts(
        pg_url: str, ralph_lrs: RalphLrs) -> None:
    ralph_lrs.start()
    engine_a = create_async_engine(pg_url, pool_size=2)
    engine_b = create_async_engine(pg_url, pool_size=2)
    proxy = LrsProxy(upstream=f"http://127.0.0.1:{ralph_lrs.port}")
    await proxy.start()
    try:
        await create_tables(engine_a)
        reg = uuid.uuid4()
        items = [BUILDER.build_serialized(r) for r in attended_records(5000, reg)]
        async with engine_a.begin() as conn:
            assert await enqueue(conn, items) == 5000
        async with LrsClient(proxy.endpoint, username=ralph_lrs.username, password=ralph_lrs.password,
                             timeout_s=30) as client_a, \
                LrsClient(proxy.endpoint, username=ralph_lrs.username, password=ralph_lrs.password,
                          timeout_s=30) as client_b:
            relay_a = Relay(engine_a, client_a, batch_size=100, relay_id="A")
            relay_b = Relay(engine_b, client_b, batch_size=100, relay_id="B")
            report_a, report_b = await asyncio.gather(relay_a.run_once(), relay_b.run_once())
        assert report_a.delivered + report_b.delivered == 5000
        assert report_a.delivered > 0 and report_b.delivered > 0, "both relays took a share"
        assert report_a.dead == report_b.dead == 0
        ids = {str(i.id) for i in items}
        assert set(proxy.posted_ids) == ids
        assert max(proxy.posted_ids.values()) == 1, "no row was POSTed twice"
        assert set(proxy.answers) == {200}
        assert copies_in_lrs(ralph_lrs, ids) == Counter({i: 1 for i in ids})
        async with engine_a.connect() as conn:
            states = (await conn.execute(select(outbox_table.c.status).distinct())).scalars().all()
        assert states == ["sent"]
    finally:
        await proxy.stop()
        await engine_a.dispose()
        await engine_b.dispose()
