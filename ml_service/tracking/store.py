"""MLflow start-up: point MLflow at the tracking store, create it safely, bound its retries.

The embedded default is a SQLite file in the workspace. MLflow creates its
schema on first use; two processes doing that at once on a new workspace would
race (`duplicate column name`), so the first opening happens under a file lock.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import mlflow
from mlflow.tracking import MlflowClient

from ml_service.errors import TrackingUnavailableError
from ml_service.locks import file_lock
from ml_service.settings import Env
from ml_service.startup import long_lived_imports
from ml_service.uris import is_http, mask_password

log = logging.getLogger(__name__)

# MLflow's own HTTP retry settings, bounded for a team server: each request is
# retried 5 times with exponential backoff (0, 2, 4, 8, 16 s, plus up to 1 s of
# jitter each), about half a minute, and waits at most 30 s for an answer. MLflow's
# defaults (7 retries, factor 2, 120 s) would let a step hang for minutes.
# A value the user set in the environment wins.
HTTP_RETRY_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "5",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "1.0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}

T = TypeVar("T")


@dataclass(frozen=True)
class Tracking:
    """The tracking store in use and the experiment the pipeline logs to."""

    tracking_uri: str
    experiment_id: str
    client: MlflowClient


# What configure_tracking found, per store and experiment, with the identity of the
# database file it opened: in-process steps of a pipeline open the store once.
_configured: dict[tuple[str, str], tuple[Tracking, tuple[int, int] | None]] = {}


def _database_identity(database: Path | None) -> tuple[int, int] | None:
    if database is None:
        return None
    try:
        stat = database.stat()
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino)


def configure_tracking(env: Env) -> Tracking:
    """Point MLflow at the store and make sure the experiment exists.

    With the embedded default the artifacts go to `artifacts/` in the workspace,
    not to an `mlruns/` folder in whatever directory the command ran from. Within
    a process the store is opened and the experiment looked up once (again if the
    database file was replaced); later calls point MLflow at it again.
    """
    uri = env.tracking_uri
    if is_http(uri):
        configure_http_retries()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    database = sqlite_path(uri)
    known = _configured.get((uri, env.experiment_name))
    if known is not None and (database is None or known[1] == _database_identity(database)):
        tracking = known[0]
        try:
            mlflow.set_experiment(experiment_id=tracking.experiment_id)
        except mlflow.exceptions.MlflowException:
            pass  # deleted meanwhile, or another server behind the URI: look again
        else:
            return tracking
    # Opening the store imports MLflow's SQLAlchemy store and alembic, and configures
    # its ORM mappers: objects that live as long as the process.
    with long_lived_imports():
        tracking = _open_tracking(env, uri, database)
    _configured[(uri, env.experiment_name)] = (tracking, _database_identity(database))
    return tracking


def _open_tracking(env: Env, uri: str, database: Path | None) -> Tracking:
    if database is not None:
        with file_lock(database.with_name(database.name + ".lock")):
            # Opening each store creates or upgrades its tables: one process at a time.
            client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            experiment = client.get_experiment_by_name(env.experiment_name)
            client.search_registered_models(max_results=1)
    else:
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        experiment = tracking_call(uri, client.get_experiment_by_name, env.experiment_name)
    if experiment is not None:
        experiment_id = experiment.experiment_id
    else:
        artifact_location = None
        if database is not None:
            artifact_location = (env.workspace / "artifacts").as_uri()
        try:
            experiment_id = client.create_experiment(
                env.experiment_name, artifact_location=artifact_location
            )
        except mlflow.exceptions.MlflowException:
            # Another process created it between our look-up and create.
            experiment = client.get_experiment_by_name(env.experiment_name)
            if experiment is None:
                raise
            experiment_id = experiment.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return Tracking(tracking_uri=uri, experiment_id=experiment_id, client=client)


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///PATH` tracking URI (its folder created), else None."""
    if not uri.startswith("sqlite:///"):
        return None
    path = Path(uri[len("sqlite:///") :])
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def configure_http_retries() -> None:
    """Set MLflow's HTTP retry bound (HTTP_RETRY_DEFAULTS) where the user has not."""
    for name, value in HTTP_RETRY_DEFAULTS.items():
        os.environ.setdefault(name, value)


def is_unreachable(err: BaseException) -> bool:
    """Whether an error (or its cause) is a tracking server that did not answer.

    MLflow reports a request that ran out of retries as an MlflowException
    "API request to URL failed with exception ...: Max retries exceeded ..." (or
    a timeout); `requests` raises ConnectionError/Timeout beneath it. Other
    connection errors (the registry database, say) are not this.
    """
    import requests

    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
            return True
        text = str(seen)
        if "API request to " in text and ("Max retries exceeded" in text or "timed out" in text):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def unreachable_error(uri: str) -> TrackingUnavailableError:
    """The one-line error for a tracking server that stayed silent through every retry."""
    retries = os.environ.get(
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES", HTTP_RETRY_DEFAULTS["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]
    )
    factor = os.environ.get(
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
        HTTP_RETRY_DEFAULTS["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"],
    )
    return TrackingUnavailableError(
        f"the tracking server {mask_password(uri)} did not answer after {retries} retries "
        f"(backoff factor {factor} s): is it running? (MLFLOW_HTTP_REQUEST_MAX_RETRIES and "
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR set the bound)"
    )


def tracking_call(uri: str, call: Callable[..., T], *args: object) -> T:
    """`call(*args)`, turning an unreachable tracking server into TrackingUnavailableError."""
    try:
        return call(*args)
    except mlflow.exceptions.MlflowException as err:
        if is_unreachable(err):
            raise unreachable_error(uri) from err
        raise
