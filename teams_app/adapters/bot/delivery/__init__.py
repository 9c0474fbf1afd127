"""Delivering the notification outbox: the sender loop, pacing (token buckets) and the retry policy."""

from teams_app.adapters.bot.delivery.pacing import Buckets, TokenBucket
from teams_app.adapters.bot.delivery.retry import (
    RETRYABLE,
    UNREACHABLE,
    DeliveryError,
    RetryPolicy,
    Verdict,
    classify,
)
from teams_app.adapters.bot.delivery.sender import (
    CHANNEL_KINDS,
    EmailRenderer,
    OutboxSender,
    ReachabilityPort,
    SenderStats,
    Transport,
    default_email_renderer,
    teams_activity,
)

__all__ = ["CHANNEL_KINDS", "RETRYABLE", "UNREACHABLE", "Buckets", "DeliveryError", "EmailRenderer", "OutboxSender",
           "ReachabilityPort", "RetryPolicy", "SenderStats", "TokenBucket", "Transport", "Verdict", "classify",
           "default_email_renderer", "teams_activity"]
