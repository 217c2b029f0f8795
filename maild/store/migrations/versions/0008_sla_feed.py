"""What the SLA ticker reads instead of every conversation, and first responses kept.

Conversations get ``hidden`` (in the Spam view; filled here from their labels, as
the view computed it before) and ``change_seq``, a per-mailbox stamp of their last
change; ``thread_removed`` names conversations merged away. ``first_response``
keeps every answered wait, so the in-time ratio survives a restart and replies
that land while maild is stopped are counted. ``feedback.counted`` feeds the flag
counters; flags given before this revision count as already counted.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from maild.store.types import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The Spam view's rule (maild.store.thread_marks.spam_rule) at this revision, for existing rows.
_HIDDEN = """
UPDATE thread SET hidden = EXISTS (
    SELECT 1 FROM label JOIN message_thread ON message_thread.message_pk = label.message_pk
    WHERE message_thread.thread_id = thread.id
      AND label.name IN ('spam', 'fraud', 'inappropriate')
      AND (label.source = 'flag' OR (thread.last_outbound_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM thread_order WHERE thread_order.thread_id = thread.id)))
)
"""


def upgrade() -> None:
    with op.batch_alter_table("mailbox") as batch:
        batch.add_column(sa.Column("change_seq", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("thread") as batch:
        batch.add_column(sa.Column("hidden", sa.Boolean(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("change_seq", sa.Integer(), nullable=False, server_default="0"))
        batch.create_index("ix_thread_change", ["mailbox_id", "change_seq"])
        batch.create_index("ix_thread_hidden_awaiting", ["hidden", "awaiting_since"])
    op.execute(_HIDDEN)
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("counted", sa.Boolean(), nullable=False, server_default="0"))
        batch.create_index("ix_feedback_counted", ["counted"])
    op.execute(sa.text("UPDATE feedback SET counted = :yes").bindparams(yes=True))
    op.create_table(
        "thread_removed",
        sa.Column("thread_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("mailbox_id", sa.Integer(), sa.ForeignKey("mailbox.id"), nullable=False),
        sa.Column("change_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("thread_id"),
    )
    op.create_index("ix_thread_removed_change", "thread_removed", ["mailbox_id", "change_seq"])
    op.create_table(
        "first_response",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), sa.ForeignKey("mailbox.id"), nullable=False),
        sa.Column("thread_id", sa.Integer(), sa.ForeignKey("thread.id"), nullable=False),
        sa.Column("asked_at", UTCDateTime(), nullable=False),
        sa.Column("replied_at", UTCDateTime(), nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=True),
        sa.Column("business_seconds", sa.Float(), nullable=True),
        sa.Column("in_time", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("thread_id", "replied_at"),
    )
    op.create_index("ix_first_response_counted", "first_response", ["counted"])
    op.create_index("ix_first_response_replied_at", "first_response", ["replied_at"])


def downgrade() -> None:
    op.drop_table("first_response")
    op.drop_table("thread_removed")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_index("ix_feedback_counted")
        batch.drop_column("counted")
    with op.batch_alter_table("thread") as batch:
        batch.drop_index("ix_thread_hidden_awaiting")
        batch.drop_index("ix_thread_change")
        batch.drop_column("change_seq")
        batch.drop_column("hidden")
    with op.batch_alter_table("mailbox") as batch:
        batch.drop_column("change_seq")
