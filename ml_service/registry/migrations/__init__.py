"""Alembic migrations of the project's own tables (version table `mlops_alembic_version`)."""
