"""The platform: datasets, tracking, pipelines and the CLI, independent of any one model."""
