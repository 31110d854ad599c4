"""Dataset versions and published pipelines, as the first release created them.

Revision ID: 0001
Revises:
Create Date: 2026-11-27

A workspace made before migrations existed already has these tables (made by
`create_all`); they are kept, and only the version row is added.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "mlops_dataset_versions" not in existing:
        op.create_table(
            "mlops_dataset_versions",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("name", sa.String(255), nullable=False),
            sa.Column("version", sa.Integer, nullable=False),
            sa.Column("digest", sa.String(64), nullable=False),
            sa.Column("uri", sa.Text, nullable=False),
            sa.Column("source", sa.Text, nullable=False),
            sa.Column("rows", sa.Integer, nullable=False),
            sa.Column("schema_json", sa.Text, nullable=False),
            sa.Column("stats_json", sa.Text, nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.UniqueConstraint("name", "version", name="uq_dataset_name_version"),
            sa.UniqueConstraint("name", "digest", name="uq_dataset_name_digest"),
        )
    if "mlops_published_pipelines" not in existing:
        op.create_table(
            "mlops_published_pipelines",
            sa.Column("id", sa.String(36), primary_key=True),
            sa.Column("name", sa.String(255), nullable=False),
            sa.Column("version", sa.String(255), nullable=False),
            sa.Column("digest", sa.String(64), nullable=False),
            sa.Column("definition_json", sa.Text, nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        )


def downgrade() -> None:
    op.drop_table("mlops_published_pipelines")
    op.drop_table("mlops_dataset_versions")
