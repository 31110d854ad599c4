"""Migration scripts, applied in order by `ml_service.registry_db.migrate`."""
