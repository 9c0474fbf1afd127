"""Bot tables: the state of each person's card about a match (ordered), and welcomes already shown.

Revision ID: bot_0002
Revises: bot_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'bot_0002'
down_revision = 'bot_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('bot_match_cards',
    sa.Column('participant_id', sa.String(length=36), nullable=False),
    sa.Column('match_id', sa.String(length=36), nullable=False),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.Column('version', sa.Integer(), server_default='0', nullable=False),
    sa.Column('activity_id', sa.String(length=512), server_default='', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('participant_id', 'match_id')
    )
    op.create_table('bot_welcomes',
    sa.Column('conversation_id', sa.String(length=512), nullable=False),
    sa.Column('user_key', sa.String(length=254), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('conversation_id', 'user_key')
    )


def downgrade() -> None:
    op.drop_table('bot_welcomes')
    op.drop_table('bot_match_cards')
