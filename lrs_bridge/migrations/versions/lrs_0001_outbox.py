"""lrs_bridge: the statement outbox table.

Revision ID: lrs_0001
Revises: (none; own branch "lrs_bridge")
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "lrs_0001"
down_revision = None
branch_labels = ("lrs_bridge",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lrs_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("statement_id", sa.String(36), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claim_token", sa.String(36), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.UniqueConstraint("statement_id", name="uq_lrs_outbox_statement_id"),
    )
    op.create_index("ix_lrs_outbox_due", "lrs_outbox", ["status", "next_attempt_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_lrs_outbox_due", table_name="lrs_outbox")
    op.drop_table("lrs_outbox")
