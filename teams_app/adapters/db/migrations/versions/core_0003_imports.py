"""Participant-import checkpoints and planned enrollments (resumable, batched CSV imports; rollback by id).

Revision ID: core_0003
Revises: core_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "core_0003"
down_revision = "core_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "participant_imports",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("program_id", sa.String(length=36), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("next_row", sa.Integer(), server_default="0", nullable=False),
        sa.Column("enrolled", sa.Integer(), server_default="0", nullable=False),
        sa.Column("existing", sa.Integer(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participant_imports")),
    )
    op.create_index("ix_participant_imports_program_file", "participant_imports", ["program_id", "file_sha256"],
                    unique=False)
    op.create_table(
        "participant_import_rows",
        sa.Column("import_id", sa.String(length=36), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.PrimaryKeyConstraint("import_id", "email", name=op.f("pk_participant_import_rows")),
    )


def downgrade() -> None:
    op.drop_table("participant_import_rows")
    op.drop_index("ix_participant_imports_program_file", table_name="participant_imports")
    op.drop_table("participant_imports")
