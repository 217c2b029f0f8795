"""Find the messages waiting to be threaded without reading every threaded one.

Threading asks, for every processed batch, for the processed messages that have no
conversation yet. With an index on ``thread_id`` alone, that read every message the
mailbox had ever threaded: quadratic over a large sync (40 ms a batch at 50,000
messages). Keyed by (thread_id, state, mailbox_id), the same question is a range seek
over just the waiting messages, and the index still serves lookups by conversation.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_message_thread", table_name="message")
    op.create_index("ix_message_thread", "message", ["thread_id", "state", "mailbox_id"])


def downgrade() -> None:
    op.drop_index("ix_message_thread", table_name="message")
    op.create_index("ix_message_thread", "message", ["thread_id"])
