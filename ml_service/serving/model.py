"""Find and load the model to serve: resolve an MLflow model URI, read its signature, load it once.

The common case, a scikit-learn model saved with skops in the embedded SQLite
registry, is resolved with two read-only SQL queries and loaded with skops
directly, so the service starts without importing MLflow (about a second and
100 MB saved). Anything else (a tracking server, remote artifacts, other
flavors) goes through MLflow's own API.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
import yaml

from ml_service.errors import ModelLoadError
from ml_service.util.env_variables import Env

log = logging.getLogger(__name__)

# MLflow's default workspace (a column of its registry tables since MLflow 3.x).
_MLFLOW_WORKSPACE = "default"
_MLFLOW_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))/?$")


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model URI points: the registered name and version (if any) and a local folder."""

    uri: str
    name: str
    version: str
    local_dir: Path


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to score: its identity, input features and a matrix → predictions function."""

    uri: str
    name: str
    version: str
    features: tuple[str, ...]
    input_example: list[list[float]] | None
    predict: Callable[[np.ndarray], np.ndarray]


def tracking_uri(env: Env) -> str:
    """The registry URI the service reads models from: the pipeline's (`tracking.tracking_uri_for`).

    Repeated here because `ml_service.tracking` imports MLflow, which the service avoids.
    """
    if env.mlflow_tracking_uri:
        return env.mlflow_tracking_uri
    return f"sqlite:///{env.workspace / 'mlflow.db'}"


def default_model_uri(env: Env) -> str:
    """`models:/<MODEL_NAME>@production` if that alias is set, else `@champion`."""
    production = f"models:/{env.model_name}@production"
    try:
        resolve_model_uri(production, env)
    except ModelLoadError:
        return f"models:/{env.model_name}@champion"
    return production


def resolve_model_uri(uri: str, env: Env) -> ResolvedModel:
    """Resolve any MLflow model URI to a local model folder.

    Raises:
        ModelLoadError: the name, alias or version does not exist, or the URI cannot be read.
    """
    local = Path(uri[len("file://") :] if uri.startswith("file://") else uri)
    if "://" not in uri and not uri.startswith("models:/") and (local / "MLmodel").is_file():
        return ResolvedModel(uri=uri, name=local.resolve().name, version="", local_dir=local)
    match = _MODELS_URI.match(uri)
    store = tracking_uri(env)
    if match and store.startswith("sqlite:///"):
        resolved = _resolve_from_sqlite(uri, match, Path(store[len("sqlite:///") :]))
        if resolved is not None:
            return resolved
    return _resolve_with_mlflow(uri, match, store)


def _resolve_from_sqlite(uri: str, match: re.Match[str], database: Path) -> ResolvedModel | None:
    """Read the registry's two rows directly; None whenever MLflow's API should decide instead."""
    if not database.is_file():
        raise ModelLoadError(f"no model registry at {database}: register a model first")
    name, alias, version = match["name"], match["alias"], match["version"]
    try:
        with sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True) as db:
            if alias is not None:
                row = db.execute(
                    "SELECT version FROM registered_model_aliases "
                    "WHERE workspace = ? AND name = ? AND alias = ?",
                    (_MLFLOW_WORKSPACE, name, alias),
                ).fetchone()
                if row is None:
                    raise ModelLoadError(f"model {name!r} has no alias {alias!r}: {uri}")
                version = str(row[0])
            row = db.execute(
                "SELECT storage_location, source FROM model_versions "
                "WHERE workspace = ? AND name = ? AND version = ? "
                "AND current_stage != 'Deleted_Internal'",
                (_MLFLOW_WORKSPACE, name, int(version)),
            ).fetchone()
    except sqlite3.Error as err:
        log.debug("registry not readable directly (%s); asking MLflow", err)
        return None
    if row is None:
        raise ModelLoadError(f"model {name!r} has no version {version}: {uri}")
    location = row[0] or row[1] or ""
    if not location.startswith("file://"):
        return None
    local_dir = Path(unquote(urlparse(location).path))
    if not (local_dir / "MLmodel").is_file():
        return None
    return ResolvedModel(uri=uri, name=name, version=str(version), local_dir=local_dir)


@contextmanager
def _mlflow_store(store: str) -> Iterator[None]:
    """Point MLflow at `store` for the block, then put back what was set before.

    MLflow's `models:/` artifact repository reads the global tracking and registry
    URIs, and setting them also sets MLFLOW_TRACKING_URI / MLFLOW_REGISTRY_URI.
    """
    import mlflow

    saved = {name: os.environ.get(name) for name in _MLFLOW_URI_VARIABLES}
    mlflow.set_tracking_uri(store)
    mlflow.set_registry_uri(store)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(saved["MLFLOW_TRACKING_URI"])  # type: ignore[arg-type]
        mlflow.set_registry_uri(saved["MLFLOW_REGISTRY_URI"])  # type: ignore[arg-type]
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)


def _resolve_with_mlflow(uri: str, match: re.Match[str] | None, store: str) -> ResolvedModel:
    import mlflow
    from mlflow.exceptions import MlflowException

    name, version = uri, ""
    with _mlflow_store(store):
        try:
            if match:
                name = match["name"]
                version = match["version"] or ""
                if match["alias"]:
                    client = mlflow.MlflowClient()
                    version = client.get_model_version_by_alias(name, match["alias"]).version
            local_dir = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
        except MlflowException as err:
            raise ModelLoadError(f"cannot resolve model {uri}: {err.message}") from err
    return ResolvedModel(uri=uri, name=name, version=str(version), local_dir=local_dir)


def read_features(mlmodel: dict[str, Any], uri: str) -> tuple[str, ...]:
    """The model's input feature names, in order, from the signature in its MLmodel file.

    Raises:
        ModelLoadError: the model has no column-based input signature.
    """
    signature = mlmodel.get("signature") or {}
    try:
        columns = json.loads(signature["inputs"])
        features = tuple(column["name"] for column in columns)
    except (KeyError, TypeError, json.JSONDecodeError) as err:
        raise ModelLoadError(
            f"model {uri} has no input signature with named columns; log it with "
            "`signature=infer_signature(X_df, y_pred)`"
        ) from err
    if not features:
        raise ModelLoadError(f"model {uri} has an empty input signature")
    return features


def _read_input_example(local_dir: Path, mlmodel: dict[str, Any], features: tuple[str, ...]):
    info = mlmodel.get("saved_input_example_info") or {}
    path = local_dir / info.get("artifact_path", "input_example.json")
    try:
        example = json.loads(path.read_text())
        columns, data = example["columns"], example["data"]
        order = [columns.index(name) for name in features]
        return [[float(row[i]) for i in order] for row in data]
    except (OSError, KeyError, ValueError, TypeError, IndexError):
        return None


def load_model(resolved: ResolvedModel) -> LoadedModel:
    """Load a resolved model once and return its predict function.

    scikit-learn models saved with skops are loaded with skops' own allow-list of
    safe types only (never the list stored in the model, which a crafted model
    could extend). Other flavors load through `mlflow.pyfunc`, which obeys MLflow's
    MLFLOW_ALLOW_PICKLE_DESERIALIZATION (on unless set to false), as `mlflow models serve` does.

    Raises:
        ModelLoadError: the model files are missing or the model cannot be loaded safely.
    """
    try:
        mlmodel = yaml.safe_load((resolved.local_dir / "MLmodel").read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ModelLoadError(f"cannot read the MLmodel file of {resolved.uri}: {err}") from err
    features = read_features(mlmodel, resolved.uri)
    sklearn_flavor = (mlmodel.get("flavors") or {}).get("sklearn") or {}
    if sklearn_flavor.get("serialization_format") == "skops":
        predict = _load_skops(resolved.local_dir / sklearn_flavor["pickled_model"], features)
    else:
        predict = _load_pyfunc(resolved.local_dir, features, resolved.uri)
    return LoadedModel(
        uri=resolved.uri,
        name=resolved.name,
        version=resolved.version,
        features=features,
        input_example=_read_input_example(resolved.local_dir, mlmodel, features),
        predict=predict,
    )


def _load_skops(path: Path, features: tuple[str, ...]) -> Callable[[np.ndarray], np.ndarray]:
    import skops.io

    try:
        untrusted = skops.io.get_untrusted_types(file=path)
        if untrusted:
            raise ModelLoadError(
                f"model file {path.name} contains types skops does not trust: "
                f"{', '.join(untrusted)}; refusing to load it"
            )
        estimator = skops.io.load(path, trusted=[])
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"cannot load {path}: {err}") from err
    fitted_names = getattr(estimator, "feature_names_in_", None)
    if fitted_names is not None:
        if tuple(fitted_names) != features:
            raise ModelLoadError(
                f"the model was fitted on features {tuple(fitted_names)} but its signature "
                f"says {features}"
            )
        # The service checks names and order against the signature itself and passes a
        # plain matrix; without this scikit-learn warns on every call (and that is slow).
        del estimator.feature_names_in_
    if not callable(getattr(estimator, "predict", None)):
        raise ModelLoadError(
            f"{path.name} holds a {type(estimator).__name__}, which cannot predict"
        )
    return linear_predict(estimator, len(features)) or estimator.predict


def linear_predict(estimator: Any, n_features: int) -> Callable[[np.ndarray], np.ndarray] | None:
    """For a fitted linear regressor, its decision function without per-call validation.

    scikit-learn's `predict` spends about 100 µs validating a one-row matrix (more
    than the rest of a request) before computing `X @ coef_.T + intercept_`. The
    service validates inputs itself, so for plain dense linear regressors it
    evaluates that same expression directly, after checking on random inputs that
    it gives what `predict` gives. None for any other estimator.
    """
    from sklearn.base import is_regressor
    from sklearn.linear_model._base import LinearModel

    coef = getattr(estimator, "coef_", None)
    intercept = getattr(estimator, "intercept_", None)
    if not (
        isinstance(estimator, LinearModel)
        and is_regressor(estimator)
        and isinstance(coef, np.ndarray)
        and coef.ndim == 1
        and coef.shape[0] == n_features
        and intercept is not None
        and np.ndim(intercept) == 0
    ):
        return None
    weights = np.ascontiguousarray(coef, dtype=np.float64)
    bias = float(intercept)

    def predict(matrix: np.ndarray) -> np.ndarray:
        return matrix @ weights + bias

    probe = np.random.default_rng(0).normal(size=(16, n_features))
    if not np.allclose(predict(probe), estimator.predict(probe), rtol=1e-12, atol=1e-9):
        log.warning("%s: direct evaluation disagrees with predict; using predict", estimator)
        return None
    return predict


def _load_pyfunc(
    local_dir: Path, features: tuple[str, ...], uri: str
) -> Callable[[np.ndarray], np.ndarray]:
    import mlflow.pyfunc
    import pandas as pd
    from mlflow.exceptions import MlflowException

    try:
        pyfunc_model = mlflow.pyfunc.load_model(str(local_dir))
    except MlflowException as err:
        raise ModelLoadError(f"cannot load model {uri}: {err.message}") from err

    def predict(matrix: np.ndarray) -> np.ndarray:
        frame = pd.DataFrame(matrix, columns=list(features))
        return np.asarray(pyfunc_model.predict(frame), dtype=np.float64)

    return predict
