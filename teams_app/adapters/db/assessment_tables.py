"""The peer-assessment tables on the application's MetaData (definitions only: no domain imports).

Creating a fresh schema imports this module, not the repositories (which pull in the assessment domain).
"""

from __future__ import annotations

import sqlalchemy as sa

from teams_app.adapters.db.tables import ID, Json, UtcDateTime, metadata

assessments = sa.Table(
    "assessments", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("program_id", ID, sa.ForeignKey("programs.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("round_id", ID, sa.ForeignKey("rounds.id", ondelete="CASCADE"), nullable=False),
    sa.Column("rubric", Json(), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("opened_at", UtcDateTime(), nullable=False),
    sa.Column("deadline", UtcDateTime(), nullable=False),
    sa.Column("seed", sa.BigInteger(), nullable=False),
    sa.Column("settings", Json(), nullable=False),  # k, named, late policy, reminders, ...
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("released_at", UtcDateTime(), nullable=True),
)

assessment_reviews = sa.Table(
    "assessment_reviews", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("assessment_id", ID, sa.ForeignKey("assessments.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("reviewer_id", ID, sa.ForeignKey("participants.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("reviewee_id", ID, sa.ForeignKey("participants.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("ratings", Json(), nullable=False),
    sa.Column("comments", Json(), nullable=False),
    sa.Column("comment", sa.Text(), nullable=False, server_default=""),
    sa.Column("version", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("submitted_at", UtcDateTime(), nullable=True),
    sa.Column("late", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("reminders_sent", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("allow_late_until", UtcDateTime(), nullable=True),
    sa.Column("excluded_reason", sa.Text(), nullable=False, server_default=""),
    sa.UniqueConstraint("assessment_id", "reviewer_id", "reviewee_id", "kind",
                        name="uq_assessment_reviews_assignment"),
)

assessment_results = sa.Table(
    "assessment_results", metadata,
    sa.Column("assessment_id", ID, sa.ForeignKey("assessments.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("reviewee_id", ID, sa.ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("n_reviews", sa.Integer(), nullable=False),
    sa.Column("score", Json(), nullable=True),
    sa.Column("criteria", Json(), nullable=False),
)

assessment_audit = sa.Table(
    "assessment_audit", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("assessment_id", ID, sa.ForeignKey("assessments.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("actor", sa.String(254), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Column("target", sa.String(36), nullable=False, server_default=""),
    sa.Column("details", Json(), nullable=False),
)

TABLES = (assessments, assessment_reviews, assessment_results, assessment_audit)
