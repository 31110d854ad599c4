"""MLOpsPython's `ml_service.util` paths, kept as thin entry points."""
