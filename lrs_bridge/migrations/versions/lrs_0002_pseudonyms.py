"""lrs_bridge: the pseudonym mapping (opaque per-person ids for people other than a statement's actor).

Revision ID: lrs_0002
Revises: lrs_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "lrs_0002"
down_revision = "lrs_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lrs_pseudonyms",
        sa.Column("person_key", sa.String(64), primary_key=True),
        sa.Column("pseudonym", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("pseudonym", name="uq_lrs_pseudonyms_pseudonym"),
    )


def downgrade() -> None:
    op.drop_table("lrs_pseudonyms")
