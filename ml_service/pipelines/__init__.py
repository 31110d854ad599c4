"""Pipelines: their definition, publishing, and the local orchestrator that runs them."""
