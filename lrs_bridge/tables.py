"""The LRS bridge's tables (the statement outbox and the pseudonym map) on their own MetaData.

Only table definitions live here, so creating a fresh schema does not import the statement builders.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

STATUS_QUEUED = "queued"
STATUS_SENT = "sent"
STATUS_DEAD = "dead"

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
_BigId = BigInteger().with_variant(Integer(), "sqlite")

outbox_table = Table(
    "lrs_outbox",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("statement_id", String(36), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(8), nullable=False, default=STATUS_QUEUED),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("claim_token", String(36), nullable=True),
    Column("claimed_until", DateTime(timezone=True), nullable=True),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    UniqueConstraint("statement_id", name="uq_lrs_outbox_statement_id"),
    Index("ix_lrs_outbox_due", "status", "next_attempt_at", "id"),
)

pseudonym_table = Table(
    "lrs_pseudonyms",
    metadata,
    Column("person_key", String(64), primary_key=True),
    Column("pseudonym", String(40), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("pseudonym", name="uq_lrs_pseudonyms_pseudonym"),
)
