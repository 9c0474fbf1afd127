"""Bot tables: spent actions and claimed links of cards' web twins.

Revision ID: bot_0003
Revises: bot_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'bot_0003'
down_revision = 'bot_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('bot_web_twin_uses',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('session_tag', sa.String(length=64), nullable=False),
    sa.Column('participant_id', sa.String(length=36), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_index(op.f('ix_bot_web_twin_uses_expires_at'), 'bot_web_twin_uses', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_bot_web_twin_uses_expires_at'), table_name='bot_web_twin_uses')
    op.drop_table('bot_web_twin_uses')
