"""Team mode against the local PostgreSQL and a real MLflow server (issue 3)."""
