"""One retry policy for every outbound HTTP edge: the LRS relay, the Bot Connector sender and the Graph client.

- ``parse_retry_after`` reads a ``Retry-After`` header (delta-seconds or an HTTP date).
- ``Backoff`` is exponential back-off with *full jitter*: attempt ``n`` (counted from 1) waits a uniform
  random time in ``[0, min(cap_s, base_s * 2 ** (n - 1))]``. Full jitter spreads a herd of clients that failed
  together better than equal or no jitter (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015).
- A server's ``Retry-After`` is a floor: we never retry sooner than it asks, but wait at most
  ``retry_after_cap_s`` (a server asking for an hour is retried after the cap and answers again).

It lives in ``lrs_bridge`` because that package is the lower layer: ``teams_app`` may import it, never the reverse.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    base = now or datetime.now(UTC)
    return max(0.0, (when - base).total_seconds())


@dataclass(frozen=True)
class Backoff:
    """Exponential back-off with full jitter, never sooner than a (capped) Retry-After."""

    base_s: float = 1.0
    cap_s: float = 300.0
    retry_after_cap_s: float = 300.0

    def ceiling(self, attempt: int) -> float:
        """The longest wait before retrying after failed attempt ``attempt`` (1-based)."""
        return min(self.cap_s, self.base_s * (2 ** min(max(attempt, 1) - 1, 60)))

    def delay(self, attempt: int, retry_after_s: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based) before the next one."""
        wait = (rng or random).uniform(0.0, self.ceiling(attempt))
        if retry_after_s is not None:
            wait = max(wait, min(retry_after_s, self.retry_after_cap_s))
        return wait
