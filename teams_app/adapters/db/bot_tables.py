"""Tables of the Teams bot: conversation references, the notification outbox, processed inbound activities.

They live on the lead's MetaData so one Alembic environment sees them; their migration is the
``bot_0001`` branch. Nothing here imports botbuilder: references are stored as plain JSON.
"""

from __future__ import annotations

import sqlalchemy as sa

from teams_app.adapters.db.tables import ID, Json, UtcDateTime, metadata

# One row per conversation the bot has seen (a person's 1:1 chat, a channel, an email thread),
# refreshed from every inbound activity so proactive messages use the current serviceUrl.
bot_conversations = sa.Table(
    "bot_conversations", metadata,
    sa.Column("id", ID, primary_key=True),  # stable_id(channel_id, conversation_id)
    sa.Column("channel_id", sa.String(32), nullable=False),
    sa.Column("conversation_id", sa.String(512), nullable=False),
    sa.Column("conversation_type", sa.String(32), nullable=False, server_default="personal"),
    sa.Column("tenant_id", sa.String(64), nullable=False, server_default=""),
    sa.Column("aad_object_id", sa.String(64), nullable=False, server_default="", index=True),
    sa.Column("user_key", sa.String(254), nullable=False, server_default="", index=True),  # Teams user id or email
    sa.Column("team_id", sa.String(512), nullable=False, server_default=""),
    sa.Column("service_url", sa.String(512), nullable=False),
    sa.Column("locale", sa.String(16), nullable=False, server_default=""),
    sa.Column("reference", Json(), nullable=False),  # serialized ConversationReference
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# Who is in a group chat with the bot (by AAD object id), read from the Teams roster when the bot sees the chat
# or its members change: a circle's posts go to a group chat whose roster is exactly the circle.
bot_conversation_members = sa.Table(
    "bot_conversation_members", metadata,
    sa.Column("conversation_ref_id", ID, sa.ForeignKey("bot_conversations.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("aad_object_id", sa.String(64), primary_key=True, index=True),
)

# The notification outbox: written in the same transaction as the domain change that caused it.
bot_notifications = sa.Table(
    "bot_notifications", metadata,
    sa.Column("id", ID, primary_key=True),  # stable_id(event key, participant, kind): a replay adds nothing
    sa.Column("participant_id", ID, nullable=False, index=True),
    sa.Column("kind", sa.String(48), nullable=False),
    sa.Column("payload", Json(), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),  # teams | email
    sa.Column("status", sa.String(16), nullable=False),  # pending | claimed | sending | sent | failed
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
    sa.Column("claimed_until", UtcDateTime(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
    sa.Column("activity_id", sa.String(512), nullable=False, server_default=""),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("sent_at", UtcDateTime(), nullable=True),
    sa.Index("ix_bot_notifications_due", "status", "next_attempt_at"),
)

# Inbound activity ids already handled (the email channel resends after 15 s without a 200).
bot_processed_activities = sa.Table(
    "bot_processed_activities", metadata,
    sa.Column("channel_id", sa.String(32), primary_key=True),
    sa.Column("activity_id", sa.String(512), primary_key=True),
    sa.Column("at", UtcDateTime(), nullable=False, index=True),
)

# What each person's card about a match shows now, with an order: an update never takes a card back.
# ``version`` grows with every change (compare-and-set), ``activity_id`` is the Teams message of the card.
bot_match_cards = sa.Table(
    "bot_match_cards", metadata,
    sa.Column("participant_id", ID, primary_key=True),
    sa.Column("match_id", ID, primary_key=True),
    sa.Column("state", sa.String(24), nullable=False),  # intro | rescheduling | checkin_open | checked_in | cancelled
    sa.Column("version", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("activity_id", sa.String(512), nullable=False, server_default=""),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# One welcome per person and conversation, remembered across restarts and instances.
bot_welcomes = sa.Table(
    "bot_welcomes", metadata,
    sa.Column("conversation_id", sa.String(512), primary_key=True),
    sa.Column("user_key", sa.String(254), primary_key=True),
    sa.Column("at", UtcDateTime(), nullable=False),
)

# Web twins of cards: each spent action (a rendered card's nonce, so a replayed POST is refused) and each
# link's claim (the browser session that acted first; another session cannot act with the same link).
bot_web_twin_uses = sa.Table(
    "bot_web_twin_uses", metadata,
    sa.Column("key", sa.String(80), primary_key=True),  # "spent:<action nonce>" or "claim:<link nonce>"
    sa.Column("session_tag", sa.String(64), nullable=False),  # keyed hash of the session cookie
    sa.Column("participant_id", ID, nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False, index=True),  # the link's expiry: pruned after it
)
