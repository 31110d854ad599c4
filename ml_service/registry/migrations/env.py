"""Alembic environment: runs on the connection `registry.database.migrate` hands over.

The version table is `mlops_alembic_version`, so these migrations live beside
MLflow's own (`alembic_version`) in one shared database without touching them.
"""

from alembic import context

from ml_service.registry.database import VERSION_TABLE, metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    # Only our tables: MLflow's live in the same database in team mode.
    include_name=lambda name, type_, _parent: type_ != "table" or (name or "").startswith("mlops_"),
)
with context.begin_transaction():
    context.run_migrations()
