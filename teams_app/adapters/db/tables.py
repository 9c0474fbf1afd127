"""SQLAlchemy Core tables for the peer-coaching domain (one MetaData; the LRS outbox has its own).

Core rather than the ORM: repositories translate rows to the frozen domain dataclasses explicitly, which
keeps the domain free of SQLAlchemy and makes every query visible.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Json(sa.TypeDecorator[Any]):
    """JSON on SQLite, JSONB on PostgreSQL.

    The PostgreSQL type is looked up when a PostgreSQL connection first needs it: importing SQLAlchemy's
    PostgreSQL dialect costs a SQLite-only command (``peercoach program list``) about 20 ms.
    """

    impl = sa.JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(sa.JSON())


def insert_for(dialect_name: str, table: sa.Table) -> Any:
    """An INSERT with ``on_conflict_do_nothing``/``on_conflict_do_update``, on SQLite and PostgreSQL alike."""
    if dialect_name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    return sqlite.insert(table)


ID = sa.String(36)

programs = sa.Table(
    "programs", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("cadence", sa.String(32), nullable=False),
    sa.Column("tenant_id", sa.String(64), nullable=False, server_default=""),
    sa.Column("cohort", sa.String(200), nullable=False, server_default=""),
    sa.Column("settings", Json(), nullable=False),  # policy, framework, rubric, feedback and meeting options
    sa.Column("next_round_at", UtcDateTime(), nullable=True, index=True),
    sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

participants = sa.Table(
    "participants", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("tenant_id", sa.String(64), nullable=False, server_default=""),
    sa.Column("aad_object_id", sa.String(64), nullable=False, server_default="", index=True),
    sa.Column("locale", sa.String(16), nullable=False, server_default="en"),
    sa.Column("profile", Json(), nullable=False),
    sa.Column("manager_email", sa.String(254), nullable=False, server_default=""),
    sa.Column("teams_reachable", sa.Boolean(), nullable=False, server_default=sa.true()),
)

enrollments = sa.Table(
    "enrollments", metadata,
    sa.Column("program_id", ID, sa.ForeignKey("programs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("participant_id", ID, sa.ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True,
              index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("consent_at", UtcDateTime(), nullable=False),
    sa.Column("joined_at", UtcDateTime(), nullable=False),
    sa.Column("paused_until", sa.Date(), nullable=True),
    sa.Column("priority", sa.Integer(), nullable=False, server_default="0"),
)

rounds = sa.Table(
    "rounds", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("program_id", ID, sa.ForeignKey("programs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("number", sa.Integer(), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("seed", sa.BigInteger(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("quality", Json(), nullable=False),
    # Circle programs: the term and the session within it (circles stay together for a term); 0 otherwise.
    sa.Column("term", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("session", sa.Integer(), nullable=False, server_default="0"),
    # The backstop for "a due round runs exactly once": two processes cannot both insert round N.
    sa.UniqueConstraint("program_id", "number", name="uq_rounds_program_number"),
)

matches = sa.Table(
    "matches", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("round_id", ID, sa.ForeignKey("rounds.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("program_id", ID, sa.ForeignKey("programs.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("round_number", sa.Integer(), nullable=False),
    sa.Column("score", sa.Float(), nullable=False),
    sa.Column("reasons", Json(), nullable=False),
    sa.Column("registration", ID, nullable=False),
)

match_members = sa.Table(
    "match_members", metadata,
    sa.Column("match_id", ID, sa.ForeignKey("matches.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("participant_id", ID, sa.ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True,
              index=True),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
)

meetings = sa.Table(
    "meetings", metadata,
    sa.Column("match_id", ID, sa.ForeignKey("matches.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("start_at", UtcDateTime(), nullable=True),
    sa.Column("end_at", UtcDateTime(), nullable=True),
    sa.Column("join_url", sa.Text(), nullable=False, server_default=""),
    sa.Column("external_id", sa.String(512), nullable=False, server_default=""),
    sa.Column("organizer", sa.String(254), nullable=False, server_default=""),
    sa.Column("detail", sa.Text(), nullable=False, server_default=""),
)

check_ins = sa.Table(
    "check_ins", metadata,
    sa.Column("match_id", ID, sa.ForeignKey("matches.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("participant_id", ID, sa.ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("met", sa.Boolean(), nullable=False),
    sa.Column("usefulness", sa.SmallInteger(), nullable=True),
    sa.Column("learned", sa.Text(), nullable=False, server_default=""),
    sa.Column("next_step", sa.Text(), nullable=False, server_default=""),
    sa.Column("at", UtcDateTime(), nullable=False),
)

pair_rules = sa.Table(
    "pair_rules", metadata,
    sa.Column("program_id", ID, sa.ForeignKey("programs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("participant_a", ID, sa.ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("participant_b", ID, sa.ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("rule", sa.String(16), nullable=False),
)

# Which xAPI statements name which person, so erasure can withdraw or void them. No foreign key: the rows
# must outlive the participant row long enough for the erasure to read them.
xapi_statements = sa.Table(
    "xapi_statements", metadata,
    sa.Column("statement_id", ID, primary_key=True),
    sa.Column("participant_id", ID, nullable=False, index=True),
    sa.Column("event_key", sa.String(400), nullable=False),
)
