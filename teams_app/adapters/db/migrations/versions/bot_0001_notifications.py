"""Bot tables: conversation references, notification outbox, processed inbound activities.

Revision ID: bot_0001
Revises: core_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = 'bot_0001'
down_revision = 'core_0001'
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('bot_conversations',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('channel_id', sa.String(length=32), nullable=False),
    sa.Column('conversation_id', sa.String(length=512), nullable=False),
    sa.Column('conversation_type', sa.String(length=32), server_default='personal', nullable=False),
    sa.Column('tenant_id', sa.String(length=64), server_default='', nullable=False),
    sa.Column('aad_object_id', sa.String(length=64), server_default='', nullable=False),
    sa.Column('user_key', sa.String(length=254), server_default='', nullable=False),
    sa.Column('team_id', sa.String(length=512), server_default='', nullable=False),
    sa.Column('service_url', sa.String(length=512), nullable=False),
    sa.Column('locale', sa.String(length=16), server_default='', nullable=False),
    sa.Column('reference', _json(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bot_conversations')),
    )
    op.create_index(op.f('ix_bot_conversations_aad_object_id'), 'bot_conversations', ['aad_object_id'], unique=False)
    op.create_index(op.f('ix_bot_conversations_user_key'), 'bot_conversations', ['user_key'], unique=False)

    op.create_table('bot_notifications',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('participant_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=48), nullable=False),
    sa.Column('payload', _json(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), server_default='', nullable=False),
    sa.Column('activity_id', sa.String(length=512), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bot_notifications')),
    )
    op.create_index(op.f('ix_bot_notifications_participant_id'), 'bot_notifications', ['participant_id'], unique=False)
    op.create_index('ix_bot_notifications_due', 'bot_notifications', ['status', 'next_attempt_at'], unique=False)

    op.create_table('bot_processed_activities',
    sa.Column('channel_id', sa.String(length=32), nullable=False),
    sa.Column('activity_id', sa.String(length=512), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('channel_id', 'activity_id', name=op.f('pk_bot_processed_activities')),
    )
    op.create_index(op.f('ix_bot_processed_activities_at'), 'bot_processed_activities', ['at'], unique=False)


def downgrade() -> None:
    op.drop_table('bot_processed_activities')
    op.drop_table('bot_notifications')
    op.drop_table('bot_conversations')
