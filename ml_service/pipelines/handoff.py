"""Fitted models handed between in-process steps instead of being read back from disk.

With in-process steps, Train holds the model it just logged; Evaluate and
Register would each deserialize it again from Train's output folder, and
Register would load the champion Evaluate already loaded. Within one process
each model is loaded once: a model folder is known by its path and the state
of its MLmodel file (a folder written again is loaded again), a registered
version by the store, name, version and creation time (a version never
changes). The local orchestrator clears what is kept when its pipeline run ends;
steps in processes of their own start empty and load as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion

_KEEP = 4  # Train's model and a champion, with room to spare; never a growing cache.
_models: dict[tuple[object, ...], Any] = {}


def _folder_key(model_dir: Path) -> tuple[object, ...] | None:
    try:
        stat = (model_dir / "MLmodel").stat()
    except OSError:
        return None
    return ("folder", str(model_dir.resolve()), stat.st_mtime_ns, stat.st_size)


def _version_key(version: ModelVersion) -> tuple[object, ...]:
    import mlflow

    return (
        "version",
        mlflow.get_registry_uri(),
        version.name,
        str(version.version),
        version.creation_timestamp,
    )


def _keep(key: tuple[object, ...] | None, model: Any) -> None:
    if key is None:
        return
    _models.pop(key, None)
    _models[key] = model
    while len(_models) > _KEEP:
        del _models[next(iter(_models))]


def remember(model_dir: str | Path, model: Any) -> None:
    """Keep the fitted `model` as the one saved in the MLflow model folder `model_dir`."""
    _keep(_folder_key(Path(model_dir)), model)


def sklearn_model(model_dir: str | Path) -> Any:
    """The scikit-learn model of an MLflow model folder, loaded at most once per process."""
    key = _folder_key(Path(model_dir))
    if key is not None and key in _models:
        return _models[key]
    import mlflow.sklearn

    model = mlflow.sklearn.load_model(str(model_dir))
    _keep(_folder_key(Path(model_dir)), model)
    return model


def sklearn_version(version: ModelVersion) -> Any:
    """The scikit-learn model of a registered version, loaded at most once per process."""
    key = _version_key(version)
    if key in _models:
        return _models[key]
    import mlflow.sklearn

    model = mlflow.sklearn.load_model(f"models:/{version.name}/{version.version}")
    _keep(key, model)
    return model


def clear() -> None:
    """Forget every kept model (the end of a pipeline run)."""
    _models.clear()
