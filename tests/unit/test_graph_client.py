"""Retry policy, mailbox limiter and batch composition of the Graph gateway (no network)."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from kiota_abstractions.request_information import RequestInformation

from teams_app.adapters.graph.client import BatchOp, MailboxLimiter, RetryPolicy, _compose


def test_retry_after_seconds_and_http_date_are_honoured_and_capped() -> None:
    policy = RetryPolicy(max_retry_after_s=60)
    rng = random.Random(1)
    assert policy.delay(1, "7", rng) == 7.0
    assert policy.delay(1, "3600", rng) == 60.0
    in_ten = format_datetime(datetime.now(UTC) + timedelta(seconds=10), usegmt=True)
    assert 8 <= policy.delay(1, in_ten, rng) <= 10


def test_backoff_without_retry_after_is_jittered_and_bounded() -> None:
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=4)
    rng = random.Random(3)
    waits = [policy.delay(attempt, None, rng) for attempt in range(1, 9) for _ in range(20)]
    assert all(0 <= w <= 4 for w in waits)
    assert len({round(w, 3) for w in waits}) > 100  # jitter: not the same wait every time
    assert max(policy.delay(1, "garbage", rng) for _ in range(50)) <= 0.5


async def test_mailbox_limiter_never_exceeds_four_in_flight() -> None:
    limiter = MailboxLimiter(4)
    active = {"n": 0, "max": 0}

    async def work(slots: int) -> None:
        async with limiter.hold({"box@x.org": slots}):
            active["n"] += slots
            active["max"] = max(active["max"], active["n"])
            await asyncio.sleep(0.001)
            active["n"] -= slots

    await asyncio.gather(*(work(1 + i % 3) for i in range(40)))
    assert active["max"] <= 4 and limiter.max_seen["box@x.org"] <= 4
    with pytest.raises(ValueError):
        async with limiter.hold({"box@x.org": 5}):
            pass


def op(index: int, mailbox: str) -> BatchOp:
    return BatchOp(str(index), mailbox, RequestInformation(), "createEvent")


def test_compose_caps_batches_at_20_and_4_per_mailbox() -> None:
    ops = [op(i, "same@x.org") for i in range(10)] + [op(100 + i, f"p{i}@x.org") for i in range(30)]
    groups = _compose(ops)
    assert sum(len(g) for g in groups) == 40
    assert all(len(g) <= 20 for g in groups)
    assert all(sum(o.mailbox == "same@x.org" for o in g) <= 4 for g in groups)
    assert len(groups) == 3  # 10 same-mailbox requests need three batches; the others fill them up
