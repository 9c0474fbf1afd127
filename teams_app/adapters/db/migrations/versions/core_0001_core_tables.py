"""Core tables: programs, participants, enrollments, rounds, matches, meetings, check-ins, pair rules.

Revision ID: core_0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = 'core_0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('participants',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), server_default='', nullable=False),
    sa.Column('aad_object_id', sa.String(length=64), server_default='', nullable=False),
    sa.Column('locale', sa.String(length=16), server_default='en', nullable=False),
    sa.Column('profile', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('manager_email', sa.String(length=254), server_default='', nullable=False),
    sa.Column('teams_reachable', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_participants')),
    sa.UniqueConstraint('email', name=op.f('uq_participants_email'))
    )
    op.create_index(op.f('ix_participants_aad_object_id'), 'participants', ['aad_object_id'], unique=False)

    op.create_table('programs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('cadence', sa.String(length=32), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), server_default='', nullable=False),
    sa.Column('cohort', sa.String(length=200), server_default='', nullable=False),
    sa.Column('settings', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('next_round_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programs')),
    sa.UniqueConstraint('name', name=op.f('uq_programs_name'))
    )
    op.create_index(op.f('ix_programs_next_round_at'), 'programs', ['next_round_at'], unique=False)

    op.create_table('enrollments',
    sa.Column('program_id', sa.String(length=36), nullable=False),
    sa.Column('participant_id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('consent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paused_until', sa.Date(), nullable=True),
    sa.Column('priority', sa.Integer(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_enrollments_participant_id_participants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_enrollments_program_id_programs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('program_id', 'participant_id', name=op.f('pk_enrollments'))
    )
    op.create_index(op.f('ix_enrollments_participant_id'), 'enrollments', ['participant_id'], unique=False)

    op.create_table('pair_rules',
    sa.Column('program_id', sa.String(length=36), nullable=False),
    sa.Column('participant_a', sa.String(length=36), nullable=False),
    sa.Column('participant_b', sa.String(length=36), nullable=False),
    sa.Column('rule', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['participant_a'], ['participants.id'], name=op.f('fk_pair_rules_participant_a_participants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['participant_b'], ['participants.id'], name=op.f('fk_pair_rules_participant_b_participants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_pair_rules_program_id_programs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('program_id', 'participant_a', 'participant_b', name=op.f('pk_pair_rules'))
    )
    op.create_table('rounds',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('program_id', sa.String(length=36), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('quality', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_rounds_program_id_programs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rounds')),
    sa.UniqueConstraint('program_id', 'number', name='uq_rounds_program_number')
    )
    op.create_table('matches',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('round_id', sa.String(length=36), nullable=False),
    sa.Column('program_id', sa.String(length=36), nullable=False),
    sa.Column('round_number', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('reasons', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('registration', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_matches_program_id_programs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], name=op.f('fk_matches_round_id_rounds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_matches'))
    )
    op.create_index(op.f('ix_matches_program_id'), 'matches', ['program_id'], unique=False)
    op.create_index(op.f('ix_matches_round_id'), 'matches', ['round_id'], unique=False)

    op.create_table('check_ins',
    sa.Column('match_id', sa.String(length=36), nullable=False),
    sa.Column('participant_id', sa.String(length=36), nullable=False),
    sa.Column('met', sa.Boolean(), nullable=False),
    sa.Column('usefulness', sa.SmallInteger(), nullable=True),
    sa.Column('learned', sa.Text(), server_default='', nullable=False),
    sa.Column('next_step', sa.Text(), server_default='', nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['match_id'], ['matches.id'], name=op.f('fk_check_ins_match_id_matches'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_check_ins_participant_id_participants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('match_id', 'participant_id', name=op.f('pk_check_ins'))
    )
    op.create_table('match_members',
    sa.Column('match_id', sa.String(length=36), nullable=False),
    sa.Column('participant_id', sa.String(length=36), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['match_id'], ['matches.id'], name=op.f('fk_match_members_match_id_matches'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_match_members_participant_id_participants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('match_id', 'participant_id', name=op.f('pk_match_members'))
    )
    op.create_index(op.f('ix_match_members_participant_id'), 'match_members', ['participant_id'], unique=False)

    op.create_table('meetings',
    sa.Column('match_id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('start_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('join_url', sa.Text(), server_default='', nullable=False),
    sa.Column('external_id', sa.String(length=512), server_default='', nullable=False),
    sa.Column('organizer', sa.String(length=254), server_default='', nullable=False),
    sa.Column('detail', sa.Text(), server_default='', nullable=False),
    sa.ForeignKeyConstraint(['match_id'], ['matches.id'], name=op.f('fk_meetings_match_id_matches'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('match_id', name=op.f('pk_meetings'))
    )



def downgrade() -> None:

    op.drop_table('meetings')
    op.drop_index(op.f('ix_match_members_participant_id'), table_name='match_members')

    op.drop_table('match_members')
    op.drop_table('check_ins')
    op.drop_index(op.f('ix_matches_round_id'), table_name='matches')
    op.drop_index(op.f('ix_matches_program_id'), table_name='matches')

    op.drop_table('matches')
    op.drop_table('rounds')
    op.drop_table('pair_rules')
    op.drop_index(op.f('ix_enrollments_participant_id'), table_name='enrollments')

    op.drop_table('enrollments')
    op.drop_index(op.f('ix_programs_next_round_at'), table_name='programs')

    op.drop_table('programs')
    op.drop_index(op.f('ix_participants_aad_object_id'), table_name='participants')

    op.drop_table('participants')

