"""Reuse a finished training: the same data, settings and code give the same model.

A training step computes a cache key from what decides its model and tags its
run with it; the next run with the same key takes that run's model instead of
training again. Any change to the data content, to a settings section, to a
source file of the step's folder or to a listed package's version changes the key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path

import mlflow
from mlflow.entities import Run
from pydantic import BaseModel

from ml_service.registry.tags import RunTag


def cache_key(
    dataset_digest: str,
    settings: Iterable[BaseModel],
    code_dir: Path,
    packages: Iterable[str] = (),
) -> str:
    """The cache key of a training: data content, settings sections, source code, package versions.

    Args:
        dataset_digest: SHA-256 of the training data's content.
        settings: the settings sections that shape the model (e.g. training and data checks).
        code_dir: the folder whose `*.py` files are the training code.
        packages: distributions whose versions shape the model (e.g. scikit-learn).
    """
    digest = hashlib.sha256()
    digest.update(dataset_digest.encode())
    for section in settings:
        digest.update(type(section).__name__.encode())
        digest.update(section.model_dump_json().encode())
    for source in sorted(code_dir.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    for name in packages:
        digest.update(f"{name}=={package_version(name)}".encode())
    return digest.hexdigest()


def find_reusable_run(experiment_id: str, key: str) -> Run | None:
    """The newest finished training run with this cache key, if any."""
    runs = mlflow.search_runs(
        experiment_ids=[experiment_id],
        filter_string=f"tags.`{RunTag.CACHE_KEY}` = '{key}' and attributes.status = 'FINISHED'",
        max_results=1,
        order_by=["attributes.start_time DESC"],
        output_format="list",
    )
    return runs[0] if runs else None


@dataclass(frozen=True)
class TrainedModel:
    """A logged model, as a training run hands it on: where it is, its metrics and code version."""

    model_uri: str
    model_run_id: str
    metrics: dict[str, float]
    git_commit: str


def reused_model(run: Run) -> TrainedModel:
    """The model of an earlier training run, as that run recorded it."""
    tags = run.data.tags
    return TrainedModel(
        model_uri=tags[RunTag.MODEL_URI],
        model_run_id=tags.get(RunTag.MODEL_RUN_ID, run.info.run_id),
        metrics=dict(run.data.metrics),
        git_commit=tags.get(RunTag.GIT_COMMIT, "unknown"),
    )


def record_model(model: TrainedModel, key: str) -> None:
    """Tag the active run with its model and cache key, so a later run can reuse it."""
    mlflow.set_tags(
        {
            RunTag.CACHE_KEY: key,
            RunTag.MODEL_URI: model.model_uri,
            RunTag.MODEL_RUN_ID: model.model_run_id,
            RunTag.GIT_COMMIT: model.git_commit,
        }
    )
