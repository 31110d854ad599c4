"""Registries: the project's database (datasets, pipelines, locks) and MLflow's model registry."""
