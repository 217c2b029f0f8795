"""Conversations by order ID and the classifier's verdict on each message.

Messages keep the facts threading uses (order and sub-order IDs, subject key,
customer); ``thread_order`` gives each order one conversation per mailbox;
``message_thread`` links a message to every conversation it belongs to (a message
naming two orders is in both); threads keep a summary the views sort and filter by.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from maild.store.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("order_ids", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("sub_orders", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("subject_key", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("customer_address", sa.String(length=320), nullable=True))
        batch.add_column(sa.Column("customer_name", sa.String(), nullable=True))
        batch.add_column(sa.Column("class_label", sa.String(length=24), nullable=True))
        batch.add_column(sa.Column("class_scores", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("model_version", sa.String(length=64), nullable=True))
    with op.batch_alter_table("thread") as batch:
        batch.add_column(sa.Column("subject_key", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("messages", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_message_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("last_inbound_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("last_outbound_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("awaiting_since", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("shown_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("sub_orders", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("after_sale_sub_orders", sa.Integer(), nullable=False, server_default="0")
        )
        batch.create_index(
            "ix_thread_customer_subject", ["mailbox_id", "customer_address", "subject_key"]
        )
        batch.create_index("ix_thread_last_message_at", ["last_message_at"])
    op.create_table(
        "thread_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), sa.ForeignKey("mailbox.id"), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("thread_id", sa.Integer(), sa.ForeignKey("thread.id"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("mailbox_id", "order_id"),
    )
    op.create_index("ix_thread_order_order_id", "thread_order", ["order_id"])
    op.create_index("ix_thread_order_thread_id", "thread_order", ["thread_id"])
    op.create_table(
        "message_thread",
        sa.Column("message_pk", sa.Integer(), sa.ForeignKey("message.id"), nullable=False),
        sa.Column("thread_id", sa.Integer(), sa.ForeignKey("thread.id"), nullable=False),
        sa.PrimaryKeyConstraint("message_pk", "thread_id"),
    )
    op.create_index("ix_message_thread_thread_id", "message_thread", ["thread_id"])
    op.create_table(
        "message_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_pk", sa.Integer(), sa.ForeignKey("message.id"), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("sub_order_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_message_order_message_pk", "message_order", ["message_pk"])
    op.create_index("ix_message_order_order_id", "message_order", ["order_id"])
    op.create_index("ix_message_order_sub_order_id", "message_order", ["sub_order_id"])


def downgrade() -> None:
    op.drop_table("message_order")
    op.drop_table("message_thread")
    op.drop_table("thread_order")
    with op.batch_alter_table("thread") as batch:
        batch.drop_index("ix_thread_last_message_at")
        batch.drop_index("ix_thread_customer_subject")
        for column in (
            "after_sale_sub_orders",
            "sub_orders",
            "shown_at",
            "awaiting_since",
            "last_outbound_at",
            "last_inbound_at",
            "last_message_at",
            "messages",
            "subject_key",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("message") as batch:
        for column in (
            "customer_name",
            "customer_address",
            "subject_key",
            "sub_orders",
            "order_ids",
        ):
            batch.drop_column(column)
