"""Conversations handed off to the platform, returned for clarification, or closed.

``thread.lifecycle`` is what a marketplace's notices and the seller's ticket returns
made of a conversation (maild.threads.summary): NULL (open), ``escalated`` (the
platform's own service took it over), ``returned`` (a ticket sent back to the
platform for clarification) or ``closed``. ``escalated_at`` is when the hand-off
came, and ``escalation_counted`` says a daemon counted it in
maild_conversations_escalated_total. Existing conversations start open: their
messages were tagged before hand-off and closing notices were recognised.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from maild.store.types import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("thread") as batch:
        batch.add_column(sa.Column("lifecycle", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("escalated_at", UTCDateTime(), nullable=True))
        batch.add_column(
            sa.Column("escalation_counted", sa.Boolean(), nullable=False, server_default="0")
        )
        batch.create_index("ix_thread_escalated", ["escalated_at", "escalation_counted"])


def downgrade() -> None:
    with op.batch_alter_table("thread") as batch:
        batch.drop_index("ix_thread_escalated")
        batch.drop_column("escalation_counted")
        batch.drop_column("escalated_at")
        batch.drop_column("lifecycle")
