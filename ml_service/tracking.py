"""MLflow start-up and small adapters: where runs go, and the code version they came from."""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from ml_service.util.env_variables import Env

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Tracking:
    """The tracking store in use and the experiment the pipeline logs to."""

    tracking_uri: str
    experiment_id: str
    client: MlflowClient


def tracking_uri_for(env: Env) -> str:
    """The tracking URI: MLFLOW_TRACKING_URI, else a SQLite file in the workspace."""
    if env.mlflow_tracking_uri:
        return env.mlflow_tracking_uri
    return f"sqlite:///{env.workspace / 'mlflow.db'}"


def configure_tracking(env: Env) -> Tracking:
    """Point MLflow at the store and make sure the experiment exists.

    With the embedded default the artifacts go to `artifacts/` in the workspace,
    not to an `mlruns/` folder in whatever directory the command ran from.
    """
    uri = tracking_uri_for(env)
    if uri.startswith("sqlite:"):
        env.workspace.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.get_experiment_by_name(env.experiment_name)
    if experiment is not None:
        experiment_id = experiment.experiment_id
    else:
        artifact_location = None
        if uri.startswith("sqlite:"):
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


@dataclass(frozen=True)
class CodeVersion:
    """The git commit the code ran from, and whether the work tree had changes."""

    commit: str
    dirty: bool


def code_version(path: Path = REPO_ROOT) -> CodeVersion:
    """The git commit of `path`, or `unknown` outside a git checkout."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return CodeVersion(commit="unknown", dirty=False)
    return CodeVersion(commit=commit, dirty=bool(status.strip()))
