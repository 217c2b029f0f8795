"""Conversations, labels and the outbox; messages gain a link to their conversation.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from maild.store.types import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "thread",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), sa.ForeignKey("mailbox.id"), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(), nullable=True),
        sa.Column("customer_name", sa.String(), nullable=True),
        sa.Column("customer_address", sa.String(length=320), nullable=True),
        sa.Column("unread", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("mailbox_id", "key"),
    )
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("thread_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_message_thread_id", "thread", ["thread_id"], ["id"])
        batch.create_index("ix_message_thread", ["thread_id"])
    op.create_table(
        "label",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_pk", sa.Integer(), sa.ForeignKey("message.id"), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_pk", "name"),
    )
    op.create_index("ix_label_message_pk", "label", ["message_pk"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), sa.ForeignKey("mailbox.id"), nullable=False),
        sa.Column("thread_id", sa.Integer(), sa.ForeignKey("thread.id"), nullable=True),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("mailbox_id", "message_id"),
    )
    op.create_index("ix_outbox_state_next", "outbox", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("label")
    with op.batch_alter_table("message") as batch:
        batch.drop_index("ix_message_thread")
        batch.drop_constraint("fk_message_thread_id", type_="foreignkey")
        batch.drop_column("thread_id")
    op.drop_table("thread")
