"""Pacing proactive sends within Teams' limits: GCRA token buckets per tenant and per conversation."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable


class TokenBucket:
    """GCRA pacing: ``rate`` per second with ``burst``; each ``acquire`` reserves the next free slot."""

    def __init__(self, rate: float, burst: float = 1.0, now: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / rate
        self.burst = max(1.0, burst)
        self._now = now
        self._tat = 0.0

    def reserve(self) -> float:
        """Reserve a slot; returns how long to wait for it."""
        now = self._now()
        tat = max(self._tat, now)
        allowed_at = tat - (self.burst - 1) * self.interval
        self._tat = tat + self.interval
        return max(0.0, allowed_at - now)

    async def acquire(self) -> None:
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)

    def hold(self, seconds: float) -> None:
        """Nothing passes for ``seconds`` (a 429 said so)."""
        self._tat = max(self._tat, self._now() + seconds)


class Buckets:
    """One bucket per key (tenant or conversation), the least recently used forgotten beyond ``limit``."""

    def __init__(self, rate: float, burst: float, limit: int = 50_000) -> None:
        self._rate, self._burst, self._limit = rate, burst, limit
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def get(self, key: str) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self._rate, self._burst)
            if len(self._buckets) > self._limit:  # idle conversations: forget the oldest
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket
