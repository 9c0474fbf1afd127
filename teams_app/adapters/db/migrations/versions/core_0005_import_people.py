"""An import's rollback list names people by participant id, not by e-mail address.

The e-mail list outlived an erasure (nothing deleted it) and, keyed by address, every batch wrote into random
places of its index. Participant ids are time-ordered, and the rows go with the person (ON DELETE CASCADE).

Revision ID: core_0005
Revises: core_0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "core_0005"
down_revision = "core_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "participant_import_people",
        sa.Column("import_id", sa.String(length=36), nullable=False),
        sa.Column("participant_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["import_id"], ["participant_imports.id"], ondelete="CASCADE",
                                name=op.f("fk_participant_import_people_import_id_participant_imports")),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"], ondelete="CASCADE",
                                name=op.f("fk_participant_import_people_participant_id_participants")),
        sa.PrimaryKeyConstraint("import_id", "participant_id", name=op.f("pk_participant_import_people")),
    )
    op.create_index(op.f("ix_participant_import_people_participant_id"), "participant_import_people",
                    ["participant_id"], unique=False)
    # Who is still there keeps their place on the list; an address with no person behind it is dropped.
    op.execute("INSERT INTO participant_import_people (import_id, participant_id) "
               "SELECT r.import_id, p.id FROM participant_import_rows r "
               "JOIN participant_imports i ON i.id = r.import_id JOIN participants p ON p.email = r.email")
    op.drop_table("participant_import_rows")


def downgrade() -> None:
    op.create_table(
        "participant_import_rows",
        sa.Column("import_id", sa.String(length=36), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.PrimaryKeyConstraint("import_id", "email", name=op.f("pk_participant_import_rows")),
    )
    op.execute("INSERT INTO participant_import_rows (import_id, email) SELECT r.import_id, p.email "
               "FROM participant_import_people r JOIN participants p ON p.id = r.participant_id")
    op.drop_index(op.f("ix_participant_import_people_participant_id"), table_name="participant_import_people")
    op.drop_table("participant_import_people")
