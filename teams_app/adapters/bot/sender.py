"""Compatibility path: the outbox sender now lives in :mod:`teams_app.adapters.bot.delivery`."""

from teams_app.adapters.bot.delivery import (
    CHANNEL_KINDS,
    RETRYABLE,
    UNREACHABLE,
    DeliveryError,
    EmailRenderer,
    OutboxSender,
    ReachabilityPort,
    SenderStats,
    TokenBucket,
    Transport,
    default_email_renderer,
    teams_activity,
)

__all__ = ["CHANNEL_KINDS", "RETRYABLE", "UNREACHABLE", "DeliveryError", "EmailRenderer", "OutboxSender",
           "ReachabilityPort", "SenderStats", "TokenBucket", "Transport", "default_email_renderer", "teams_activity"]
