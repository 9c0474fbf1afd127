"""The one retry policy shared by the relay, the Bot Connector sender and the Graph client."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from lrs_bridge.retry import Backoff, parse_retry_after


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after("Mon, 23 Nov 2026 09:00:05 GMT", now) == 5.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("-4") == 0.0


def test_backoff_is_full_jitter_under_an_exponential_ceiling() -> None:
    policy = Backoff(base_s=0.5, cap_s=4.0)
    rng = random.Random(3)
    assert [policy.ceiling(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    waits = [policy.delay(n, None, rng) for n in range(1, 9) for _ in range(20)]
    assert all(0.0 <= w <= 4.0 for w in waits)
    assert min(waits) < 0.1  # full jitter reaches down to zero
    assert len({round(w, 4) for w in waits}) > 100  # not the same wait every time
    assert all(policy.delay(1, None, rng) <= 0.5 for _ in range(50))


def test_backoff_never_retries_before_retry_after_but_caps_it() -> None:
    policy = Backoff(base_s=0.5, cap_s=4.0, retry_after_cap_s=60.0)
    rng = random.Random(1)
    assert all(policy.delay(1, 7.0, rng) == 7.0 for _ in range(20))  # Retry-After above the jitter wins
    assert policy.delay(1, 3600.0, rng) == 60.0
    assert all(policy.delay(8, 0.0, rng) <= 4.0 for _ in range(20))
