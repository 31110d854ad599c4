"""Staged deployment's desired state: endpoints, their deployments and traffic, and history.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

An endpoint (`staging`, `production`, ...) has deployments (`blue`, `green`),
each a model version with a share of the traffic. The running service of an
endpoint reconciles to these rows; `mlops deploy` changes them. The history
keeps every change: which version served where, when, who made the change.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mlops_endpoints",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("port", sa.Integer, nullable=True),
        sa.Column("key_ref", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "mlops_deployments",
        sa.Column("endpoint", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("model_name", sa.String(255), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("model_uri", sa.Text, nullable=False),
        sa.Column("traffic", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("traffic_since", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "mlops_deployment_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("endpoint", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("deployment", sa.String(64), nullable=True),
        sa.Column("model_name", sa.String(255), nullable=True),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("traffic_json", sa.Text, nullable=False),
        sa.Column("smoke_test", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mlops_deployment_history")
    op.drop_table("mlops_deployments")
    op.drop_table("mlops_endpoints")
