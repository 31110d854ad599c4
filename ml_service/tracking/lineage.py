"""What a training run records about where its model came from: the dataset version, the pins."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from importlib.metadata import version as package_version
from typing import TYPE_CHECKING, Any

import mlflow

from ml_service.registry.tags import RunTag

if TYPE_CHECKING:
    import pandas as pd

    from ml_service.data.datasets import DatasetVersion


def dataset_source(uri: str) -> Any:
    """MLflow's source object for a datastore URI (a local file or any fsspec URL)."""
    from mlflow.data.dataset_source_registry import resolve_dataset_source

    with warnings.catch_warnings():
        # file:// matches two equivalent local source types; either is right.
        warnings.simplefilter("ignore", UserWarning)
        return resolve_dataset_source(uri)


def log_dataset(frame: pd.DataFrame, dataset: DatasetVersion, target: str) -> None:
    """Log the dataset version the active run trains on: tags, params and an MLflow input."""
    mlflow.set_tags({RunTag.DATASET: dataset.ref, RunTag.DATASET_DIGEST: dataset.digest})
    mlflow.log_params(
        {
            "dataset_name": dataset.name,
            "dataset_version": dataset.version,
            "dataset_digest": dataset.digest,
        }
    )
    mlflow.log_input(
        mlflow.data.from_pandas(  # type: ignore[attr-defined]
            frame,
            source=dataset_source(dataset.uri),
            targets=target,
            name=dataset.name,
            digest=dataset.digest[:32],
        ),
        context="training",
        tags={"version": str(dataset.version), "sha256": dataset.digest},
    )


def pinned_requirements(names: Iterable[str]) -> list[str]:
    """Pip requirements at the versions running now, e.g. `scikit-learn==1.9.1`.

    Pinning them spares `log_model` seconds of inferring them, and makes
    `mlflow models serve` rebuild exactly this environment.
    """
    return [f"{name}=={package_version(name)}" for name in names]
