"""Migration scripts, applied in order by `ml_service.registry.database.migrate`."""
