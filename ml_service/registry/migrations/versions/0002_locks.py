"""Named lock rows, serialising champion changes and pipeline publishing across processes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

The Register step holds `model:NAME` (UPDATE inside its transaction) while it
re-checks the challenger against the current @champion and registers, so two
pipeline runs cannot both promote from the same old champion; publishing holds
`pipeline:NAME:VERSION`, so two builds cannot both publish an active pipeline.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mlops_locks",
        sa.Column("name", sa.String(512), primary_key=True),
        sa.Column("holder", sa.Text, nullable=False),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mlops_locks")
