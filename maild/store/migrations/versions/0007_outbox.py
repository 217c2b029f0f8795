"""The outbox keeps what the sender needs: envelope, subject, order, the server's answer,
when its last attempt started and when its copy reached the Sent folder.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from maild.store.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(
            sa.Column("sender", sa.String(length=320), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("recipients", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("subject", sa.String(), nullable=True))
        batch.add_column(sa.Column("order_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("smtp_reply", sa.String(), nullable=True))
        batch.add_column(sa.Column("copied_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("attempted_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        for column in (
            "attempted_at",
            "copied_at",
            "smtp_reply",
            "order_id",
            "subject",
            "recipients",
            "sender",
        ):
            batch.drop_column(column)
