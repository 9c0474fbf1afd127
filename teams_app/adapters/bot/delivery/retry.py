"""What a failed Bot Connector send means: retry later (with lrs_bridge's back-off), fall back to email, or give up.

One policy for every outbound call: 429/412/5xx and "no answer" (status 0) are retried with exponential
back-off and full jitter, never sooner than Retry-After (``lrs_bridge.retry.Backoff``); 403/404 mean the
person cannot be reached in Teams (the bot was blocked or uninstalled); anything else is final.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import Enum

from lrs_bridge.retry import Backoff

RETRYABLE = frozenset({0, 412, 429, 500, 502, 503, 504})  # 0: no HTTP answer (connection refused, timeout)
UNREACHABLE = frozenset({403, 404})


class DeliveryError(Exception):
    """A send failed; ``status`` is the HTTP status (0 when there was no answer)."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status}: {message}" if status else message)
        self.status = status
        self.retry_after = retry_after


class Verdict(Enum):
    RETRY = "retry"
    UNREACHABLE = "unreachable"
    FAIL = "fail"


def classify(error: DeliveryError) -> Verdict:
    if error.status in UNREACHABLE:
        return Verdict.UNREACHABLE
    if error.status in RETRYABLE:
        return Verdict.RETRY
    return Verdict.FAIL


@dataclass
class RetryPolicy:
    """How many attempts a notification gets and how long to wait between them."""

    max_attempts: int = 8
    backoff: Backoff = field(default_factory=Backoff)

    def next_delay(self, attempts: int, retry_after: float | None, rng: random.Random) -> float | None:
        """Seconds until the next attempt after ``attempts`` failed ones; None: give up (dead letter)."""
        if attempts >= self.max_attempts:
            return None
        return self.backoff.delay(attempts, retry_after, rng)
