"""Team mode: where a shared tracking server's teammates find the project's registries.

`mlops server start` records, in the server's own database, where the dataset
registry and published pipelines live (the same PostgreSQL database, password
removed) and the shared datastore. A client with an http(s) MLFLOW_TRACKING_URI
reads that record through the server, so setting MLFLOW_TRACKING_URI is all a
teammate does; the database password, if any, comes from the driver's usual
sources (PGPASSWORD, ~/.pgpass) and is never stored or shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from ml_service.errors import TeamSettingsError
from ml_service.uris import strip_password

# The experiment whose tags carry the record: visible in the UI, holds no runs.
TEAM_EXPERIMENT = "mlops-team-settings"
TAG_REGISTRY_URI = "mlops.registry_uri"
TAG_DATASTORE_URI = "mlops.datastore_uri"


@dataclass(frozen=True)
class TeamSettings:
    """Where a team's registry database and datastore are."""

    registry_uri: str
    datastore_uri: str


def record_settings(backend_store_uri: str, datastore_uri: str) -> TeamSettings:
    """Write the team record straight into the tracking database (before the server starts).

    This also creates or upgrades MLflow's own tables, once, in this process,
    rather than in each server worker.
    """
    from mlflow.entities import ExperimentTag
    from mlflow.exceptions import MlflowException
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    settings = TeamSettings(
        registry_uri=strip_password(backend_store_uri), datastore_uri=datastore_uri
    )
    store = SqlAlchemyStore(backend_store_uri, "mlflow-artifacts:/")
    experiment = store.get_experiment_by_name(TEAM_EXPERIMENT)
    if experiment is None:
        try:
            experiment_id = store.create_experiment(TEAM_EXPERIMENT)
        except MlflowException:
            # Another `mlops server start` on the same database created it first.
            experiment_id = store.get_experiment_by_name(TEAM_EXPERIMENT).experiment_id
    else:
        experiment_id = experiment.experiment_id
    store.set_experiment_tag(experiment_id, ExperimentTag(TAG_REGISTRY_URI, settings.registry_uri))
    store.set_experiment_tag(
        experiment_id, ExperimentTag(TAG_DATASTORE_URI, settings.datastore_uri)
    )
    store.engine.dispose()
    return settings


@cache
def server_settings(tracking_uri: str) -> TeamSettings:
    """The team record of the tracking server at `tracking_uri`, read once per process.

    Raises:
        TeamSettingsError: the server was not started with `mlops server start`.
        TrackingUnavailableError: the server does not answer.
    """
    from mlflow.tracking import MlflowClient

    from ml_service.tracking.store import tracking_call

    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = tracking_call(tracking_uri, client.get_experiment_by_name, TEAM_EXPERIMENT)
    tags = (
        dict(experiment.tags)
        if experiment is not None and experiment.lifecycle_stage == "active"
        else {}
    )
    if TAG_REGISTRY_URI not in tags or TAG_DATASTORE_URI not in tags:
        raise TeamSettingsError(
            f"the tracking server {tracking_uri} has no team registry recorded: start it with "
            "`mlops server start`, or set MLOPS_REGISTRY_URI and MLOPS_DATASTORE_URI"
        )
    return TeamSettings(registry_uri=tags[TAG_REGISTRY_URI], datastore_uri=tags[TAG_DATASTORE_URI])
