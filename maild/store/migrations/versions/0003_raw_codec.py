"""Raw bytes carry their encoding: landing stores them plain, processing compresses them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.alter_column("raw_zlib", new_column_name="raw_blob")
        # Every message stored before this revision was zlib-compressed at landing.
        batch.add_column(
            sa.Column("raw_codec", sa.String(length=8), nullable=False, server_default="zlib")
        )


def downgrade() -> None:
    raise NotImplementedError("uncompressed raw bytes cannot be expressed in revision 0002")
