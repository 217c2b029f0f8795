"""Whether the classifier's label came from a known spam or phishing campaign.

A model may flag a message whose score is below the usual threshold because it lies
close to spam or phishing the model was trained on (maild.classify.exemplars). A seller
reviewing the Spam view needs that reason next to the score, or a label at 0.10 looks
like an error. ``message.class_campaign`` keeps it with the rest of the verdict; it is
NULL for messages classified before this revision, which ``maild show`` reads as "not
said" rather than as "not close".

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("class_campaign", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.drop_column("class_campaign")
