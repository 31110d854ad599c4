"""Team mode: a shared MLflow server on PostgreSQL, and how teammates find its registries."""
