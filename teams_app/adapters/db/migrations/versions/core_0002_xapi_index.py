"""Index of xAPI statements by participant (for erasure).

Revision ID: core_0002
Revises: core_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "core_0002"
down_revision = "core_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xapi_statements",
        sa.Column("statement_id", sa.String(length=36), nullable=False),
        sa.Column("participant_id", sa.String(length=36), nullable=False),
        sa.Column("event_key", sa.String(length=400), nullable=False),
        sa.PrimaryKeyConstraint("statement_id", name=op.f("pk_xapi_statements")),
    )
    op.create_index(op.f("ix_xapi_statements_participant_id"), "xapi_statements", ["participant_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_xapi_statements_participant_id"), table_name="xapi_statements")
    op.drop_table("xapi_statements")
