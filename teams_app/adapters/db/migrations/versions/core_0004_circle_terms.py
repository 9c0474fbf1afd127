"""Circles kept for a term: the term and session of each round, and the rosters of group chats with the bot.

Revision ID: core_0004
Revises: core_0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "core_0004"
down_revision = "core_0003"
branch_labels = None
depends_on = ("bot_0001",)  # the roster belongs to a stored conversation (bot_conversations)


def upgrade() -> None:
    op.add_column("rounds", sa.Column("term", sa.Integer(), server_default="0", nullable=False))
    op.add_column("rounds", sa.Column("session", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "bot_conversation_members",
        sa.Column("conversation_ref_id", sa.String(length=36), nullable=False),
        sa.Column("aad_object_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["conversation_ref_id"], ["bot_conversations.id"], ondelete="CASCADE",
                                name=op.f("fk_bot_conversation_members_conversation_ref_id_bot_conversations")),
        sa.PrimaryKeyConstraint("conversation_ref_id", "aad_object_id", name=op.f("pk_bot_conversation_members")),
    )
    op.create_index(op.f("ix_bot_conversation_members_aad_object_id"), "bot_conversation_members",
                    ["aad_object_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_bot_conversation_members_aad_object_id"), table_name="bot_conversation_members")
    op.drop_table("bot_conversation_members")
    with op.batch_alter_table("rounds") as batch:
        batch.drop_column("session")
        batch.drop_column("term")
