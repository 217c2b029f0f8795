"""Ingest tables: mailboxes, folders with their sync position, messages, locations.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from maild.store.types import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mailbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "folder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), sa.ForeignKey("mailbox.id"), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("last_sync", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("uidvalidity_changes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("mailbox_id", "name"),
    )
    op.create_table(
        "message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), sa.ForeignKey("mailbox.id"), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("raw_zlib", sa.LargeBinary(), nullable=False),
        sa.Column("raw_size", sa.Integer(), nullable=False),
        sa.Column("internaldate", UTCDateTime(), nullable=True),
        sa.Column("landed_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("quarantine_reason", sa.String(), nullable=True),
        sa.Column("processed_at", UTCDateTime(), nullable=True),
        sa.Column("degraded", sa.Boolean(), nullable=False),
        sa.Column("subject", sa.String(), nullable=True),
        sa.Column("from_addr", sa.String(length=320), nullable=True),
        sa.Column("from_name", sa.String(), nullable=True),
        sa.Column("to_addrs", sa.JSON(), nullable=True),
        sa.Column("cc_addrs", sa.JSON(), nullable=True),
        sa.Column("reply_to", sa.String(length=320), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("in_reply_to", sa.String(length=998), nullable=True),
        sa.Column("reference_ids", sa.JSON(), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=True),
        sa.Column("body_text", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("mailbox_id", "message_id", "digest"),
    )
    op.create_index("ix_message_state", "message", ["state"])
    op.create_table(
        "message_location",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_pk", sa.Integer(), sa.ForeignKey("message.id"), nullable=False),
        sa.Column("folder_id", sa.Integer(), sa.ForeignKey("folder.id"), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("folder_id", "uidvalidity", "uid"),
    )
    op.create_index("ix_message_location_message_pk", "message_location", ["message_pk"])
    op.create_table(
        "attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_pk", sa.Integer(), sa.ForeignKey("message.id"), nullable=False),
        sa.Column("filename", sa.String(), nullable=True),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_attachment_message_pk", "attachment", ["message_pk"])


def downgrade() -> None:
    op.drop_table("attachment")
    op.drop_table("message_location")
    op.drop_table("message")
    op.drop_table("folder")
    op.drop_table("mailbox")
