"""Refusals by the outbound policy, kept so that a daemon counts each one once.

``maild reply`` and ``maild send`` run in a process of their own, so a refusal there
reached no metric; now every refusal is a row that the daemon's ticker claims.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from maild.store.types import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_refusal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), sa.ForeignKey("mailbox.id"), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=True),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("origin", sa.String(length=8), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_policy_refusal_counted", "policy_refusal", ["counted"])


def downgrade() -> None:
    op.drop_table("policy_refusal")
