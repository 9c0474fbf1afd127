"""Peer assessment tables: assessments, assessment_reviews, assessment_results, assessment_audit.

Revision ID: assessment_0001
Revises: core_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "assessment_0001"
down_revision = "core_0001"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "assessments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("program_id", sa.String(length=36), nullable=False),
        sa.Column("round_id", sa.String(length=36), nullable=False),
        sa.Column("rubric", _json(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("settings", _json(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["program_id"], ["programs.id"], name=op.f("fk_assessments_program_id_programs"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["round_id"], ["rounds.id"], name=op.f("fk_assessments_round_id_rounds"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessments")),
    )
    op.create_index(op.f("ix_assessments_program_id"), "assessments", ["program_id"], unique=False)
    op.create_index(op.f("ix_assessments_status"), "assessments", ["status"], unique=False)

    op.create_table(
        "assessment_reviews",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("assessment_id", sa.String(length=36), nullable=False),
        sa.Column("reviewer_id", sa.String(length=36), nullable=False),
        sa.Column("reviewee_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ratings", _json(), nullable=False),
        sa.Column("comments", _json(), nullable=False),
        sa.Column("comment", sa.Text(), server_default="", nullable=False),
        sa.Column("version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("late", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("reminders_sent", sa.Integer(), server_default="0", nullable=False),
        sa.Column("allow_late_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("excluded_reason", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(["assessment_id"], ["assessments.id"],
                                name=op.f("fk_assessment_reviews_assessment_id_assessments"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reviewer_id"], ["participants.id"],
                                name=op.f("fk_assessment_reviews_reviewer_id_participants"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reviewee_id"], ["participants.id"],
                                name=op.f("fk_assessment_reviews_reviewee_id_participants"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_reviews")),
        sa.UniqueConstraint("assessment_id", "reviewer_id", "reviewee_id", "kind",
                            name="uq_assessment_reviews_assignment"),
    )
    op.create_index(op.f("ix_assessment_reviews_assessment_id"), "assessment_reviews", ["assessment_id"],
                    unique=False)
    op.create_index(op.f("ix_assessment_reviews_reviewer_id"), "assessment_reviews", ["reviewer_id"], unique=False)
    op.create_index(op.f("ix_assessment_reviews_reviewee_id"), "assessment_reviews", ["reviewee_id"], unique=False)

    op.create_table(
        "assessment_results",
        sa.Column("assessment_id", sa.String(length=36), nullable=False),
        sa.Column("reviewee_id", sa.String(length=36), nullable=False),
        sa.Column("n_reviews", sa.Integer(), nullable=False),
        sa.Column("score", _json(), nullable=True),
        sa.Column("criteria", _json(), nullable=False),
        sa.ForeignKeyConstraint(["assessment_id"], ["assessments.id"],
                                name=op.f("fk_assessment_results_assessment_id_assessments"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reviewee_id"], ["participants.id"],
                                name=op.f("fk_assessment_results_reviewee_id_participants"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("assessment_id", "reviewee_id", name=op.f("pk_assessment_results")),
    )

    op.create_table(
        "assessment_audit",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("assessment_id", sa.String(length=36), nullable=False),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("target", sa.String(length=36), server_default="", nullable=False),
        sa.Column("details", _json(), nullable=False),
        sa.ForeignKeyConstraint(["assessment_id"], ["assessments.id"],
                                name=op.f("fk_assessment_audit_assessment_id_assessments"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_audit")),
    )
    op.create_index(op.f("ix_assessment_audit_assessment_id"), "assessment_audit", ["assessment_id"], unique=False)


def downgrade() -> None:
    op.drop_table("assessment_audit")
    op.drop_table("assessment_results")
    op.drop_index(op.f("ix_assessment_reviews_reviewee_id"), table_name="assessment_reviews")
    op.drop_index(op.f("ix_assessment_reviews_reviewer_id"), table_name="assessment_reviews")
    op.drop_index(op.f("ix_assessment_reviews_assessment_id"), table_name="assessment_reviews")
    op.drop_table("assessment_reviews")
    op.drop_index(op.f("ix_assessments_status"), table_name="assessments")
    op.drop_index(op.f("ix_assessments_program_id"), table_name="assessments")
    op.drop_table("assessments")
