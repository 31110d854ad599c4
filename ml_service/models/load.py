"""Load a resolved model safely, once, as a function from a feature matrix to predictions.

A model with an ONNX twin (made at registration, see `twin`) is scored by ONNX
Runtime, which imports neither scikit-learn, SciPy, pandas, skops nor MLflow.
Otherwise scikit-learn models saved with skops load with skops' allow-list of
safe types only, and other flavors through `mlflow.pyfunc`. The model's
signature names its input features, in order.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from ml_service.errors import ModelLoadError
from ml_service.models.resolve import ResolvedModel
from ml_service.models.twin import TWIN_PATH, has_twin, load_twin
from ml_service.registry.tags import VersionTag

Runtime = Literal["onnx", "skops", "pyfunc"]


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to score: its identity, input features and a matrix → predictions function."""

    uri: str
    name: str
    version: str
    features: tuple[str, ...]
    input_example: list[list[float]] | None
    predict: Callable[[np.ndarray], np.ndarray]
    runtime: Runtime = "pyfunc"
    """What scores: `onnx` (the twin, ONNX Runtime), `skops` (scikit-learn) or `pyfunc` (MLflow)."""


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


def _read_input_example(
    local_dir: Path, mlmodel: dict[str, Any], features: tuple[str, ...]
) -> list[list[float]] | None:
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

    A model with an ONNX twin is scored by ONNX Runtime; a twin that the registry
    records but that is missing, damaged or changed is an error, never a silent
    fallback. Without a twin, scikit-learn models saved with skops are loaded with
    skops' own allow-list of safe types only (never the list stored in the model,
    which a crafted model could extend). Other flavors load through `mlflow.pyfunc`,
    which obeys MLflow's MLFLOW_ALLOW_PICKLE_DESERIALIZATION (on unless set to
    false), as `mlflow models serve` does.

    Raises:
        ModelLoadError: the model files are missing or the model cannot be loaded safely.
    """
    try:
        mlmodel = yaml.safe_load((resolved.local_dir / "MLmodel").read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ModelLoadError(f"cannot read the MLmodel file of {resolved.uri}: {err}") from err
    features = read_features(mlmodel, resolved.uri)
    sklearn_flavor = (mlmodel.get("flavors") or {}).get("sklearn") or {}
    runtime: Runtime
    if has_twin(resolved.local_dir) or resolved.tags.get(VersionTag.ONNX_TWIN) == TWIN_PATH:
        predict, runtime = load_twin(resolved.local_dir, features), "onnx"
    elif sklearn_flavor.get("serialization_format") == "skops":
        path = resolved.local_dir / sklearn_flavor["pickled_model"]
        predict, runtime = _load_skops(path, features), "skops"
    else:
        predict, runtime = _load_pyfunc(resolved.local_dir, features, resolved.uri), "pyfunc"
    return LoadedModel(
        uri=resolved.uri,
        name=resolved.name,
        version=resolved.version,
        features=features,
        input_example=_read_input_example(resolved.local_dir, mlmodel, features),
        predict=predict,
        runtime=runtime,
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
    predict: Callable[[np.ndarray], np.ndarray] = estimator.predict
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
