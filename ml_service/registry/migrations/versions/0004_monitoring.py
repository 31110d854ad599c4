"""A dataset version may record an accepted distribution shift: why it became the new reference.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

The data check refuses a file whose columns moved too far from the latest
version's; `mlops data register --accept-shift --reason TEXT` registers it
anyway and keeps, on the version's row, the reason, who accepted it, when,
against which version and the problems the check found (JSON, NULL when no
shift was accepted).
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A workspace made before migrations existed, by a build that already had the
    # column in its table definition, has it; adding it again would fail.
    columns = sa.inspect(op.get_bind()).get_columns("mlops_dataset_versions")
    if "accepted_shift_json" in {column["name"] for column in columns}:
        return
    with op.batch_alter_table("mlops_dataset_versions") as batch:
        batch.add_column(sa.Column("accepted_shift_json", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mlops_dataset_versions") as batch:
        batch.drop_column("accepted_shift_json")
