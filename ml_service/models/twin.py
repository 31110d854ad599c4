"""The ONNX twin of a model: made and checked at registration, scored by ONNX Runtime.

A twin is the fitted scikit-learn model converted with skl2onnx (double-precision
inputs when the converters allow it), kept only if it predicts what the model
predicts on the held-out test split within a tolerance. It lives in the MLflow
model's own folder, next to MLmodel (the MLflow model itself is unchanged):

    onnx/model.onnx   the ONNX graph: one input `X` (rows × features, signature order)
    onnx/twin.json    its SHA-256, input type, features and the check it passed

Making a twin imports scikit-learn, skl2onnx and onnxruntime; loading one
imports only numpy and onnxruntime, which is what lets a scoring process start
fast and small.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ml_service.errors import ModelLoadError

log = logging.getLogger(__name__)

TWIN_DIR = "onnx"
TWIN_FILE = "model.onnx"
TWIN_META = "twin.json"
TWIN_PATH = f"{TWIN_DIR}/{TWIN_FILE}"
"""Where the twin sits inside the model folder (and the value of the `onnx_twin` version tag)."""

CONVERTER_MODULES = ("skl2onnx", "skl2onnx.common.data_types", "sklearn.base", "onnxruntime")
"""What `make_twin` imports (seconds: skl2onnx makes a class per ONNX operator): import ahead."""

InputType = Literal["double", "float"]
_NUMPY_TYPES: dict[str, type[np.floating[Any]]] = {"double": np.float64, "float": np.float32}
_ORT_TYPES = {"tensor(double)": "double", "tensor(float)": "float"}


@dataclass(frozen=True)
class TwinCheck:
    """The outcome of converting a model and checking the twin against the model itself.

    `onnx_model` is None when there is no twin to attach: the model could not be
    converted, or its twin differs from it by more than the tolerance.
    """

    onnx_model: bytes | None
    input_type: InputType | None
    features: tuple[str, ...]
    max_abs_diff: float | None
    tolerance: float
    reason: str

    @property
    def attached(self) -> bool:
        """Whether the twin passed its check and is to be stored with the model."""
        return self.onnx_model is not None

    @property
    def path(self) -> str:
        """Where the twin is stored inside the model folder."""
        return TWIN_PATH


def make_twin(estimator: Any, X_check: Any, tolerance: float) -> TwinCheck:
    """Convert a fitted estimator to ONNX and check the twin against `estimator.predict`.

    Double-precision inputs are tried first (predictions then match to ~1e-13);
    single precision only when a converter supports nothing else.

    Args:
        estimator: a fitted scikit-learn estimator or pipeline.
        X_check: held-out rows (a DataFrame whose columns are the model's features, in
            the signature's order) to compare the twin's predictions with the model's.
        tolerance: the largest absolute difference allowed on any row.

    Returns:
        The twin with its check; `onnx_model` is None when it is not to be attached.
    """
    features = tuple(str(name) for name in X_check.columns)
    matrix = np.ascontiguousarray(X_check.to_numpy(dtype=np.float64))
    expected = np.asarray(estimator.predict(X_check), dtype=np.float64)
    errors = []
    for input_type in ("double", "float"):
        try:
            onnx_model = _convert(estimator, len(features), input_type)
            predict = _session_predict(onnx_model, name=type(estimator).__name__)
            actual = predict(matrix)
        except Exception as err:  # skl2onnx and onnxruntime raise many types
            errors.append(f"{input_type}: {type(err).__name__}: {str(err).splitlines()[0]}")
            continue
        if actual.shape != expected.shape:
            reason = f"the twin answers shape {actual.shape}, the model {expected.shape}"
            return TwinCheck(None, input_type, features, None, tolerance, reason)
        diff = float(np.max(np.abs(actual - expected))) if len(expected) else 0.0
        if not np.isfinite(diff) or diff > tolerance:
            reason = (
                f"max abs diff {diff:.3g} on the test split exceeds the tolerance {tolerance:g}"
            )
            return TwinCheck(None, input_type, features, diff, tolerance, reason)
        return TwinCheck(onnx_model, input_type, features, diff, tolerance, "attached")
    reason = f"skl2onnx cannot convert {type(estimator).__name__} ({'; '.join(errors)})"
    return TwinCheck(None, None, features, None, tolerance, reason)


def _convert(estimator: Any, n_features: int, input_type: InputType) -> bytes:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
    from sklearn.base import is_classifier

    tensor = DoubleTensorType if input_type == "double" else FloatTensorType
    options = {"zipmap": False} if is_classifier(estimator) else None
    onnx_model = convert_sklearn(
        estimator,
        initial_types=[("X", tensor([None, n_features]))],
        options=options,
    )
    return bytes(onnx_model.SerializeToString())


def write_twin(check: TwinCheck, folder: Path) -> Path:
    """Write an attached twin as `onnx/model.onnx` and `onnx/twin.json` under `folder`.

    Returns:
        The `onnx` folder written.
    """
    if check.onnx_model is None:
        raise ValueError(f"no twin to write: {check.reason}")
    target = folder / TWIN_DIR
    target.mkdir(parents=True, exist_ok=True)
    (target / TWIN_FILE).write_bytes(check.onnx_model)
    meta = {
        "sha256": hashlib.sha256(check.onnx_model).hexdigest(),
        "input_type": check.input_type,
        "features": list(check.features),
        "max_abs_diff": check.max_abs_diff,
        "tolerance": check.tolerance,
    }
    (target / TWIN_META).write_text(json.dumps(meta, indent=2) + "\n")
    return target


@contextmanager
def staged_twin(check: TwinCheck) -> Iterator[Path]:
    """A temporary folder holding the written twin (its `onnx/`), removed when the block ends."""
    with tempfile.TemporaryDirectory(prefix="onnx-twin-") as folder:
        write_twin(check, Path(folder))
        yield Path(folder)


def has_twin(model_dir: Path) -> bool:
    """Whether the model folder holds an ONNX twin (or what is left of one)."""
    return (model_dir / TWIN_DIR).is_dir()


def load_twin(model_dir: Path, features: Sequence[str]) -> Callable[[np.ndarray], np.ndarray]:
    """The twin's predict function: a float64 matrix (rows × features) → predictions.

    Raises:
        ModelLoadError: the twin is missing, does not match its recorded digest, cannot
            be read by ONNX Runtime, or takes other features than the signature's.
    """
    folder = model_dir / TWIN_DIR
    try:
        meta = json.loads((folder / TWIN_META).read_text())
        recorded_sha256 = str(meta["sha256"])
        twin_features = tuple(meta["features"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ModelLoadError(
            f"the ONNX twin's description {folder / TWIN_META} is missing or unreadable ({err}); "
            "the model folder is damaged: copy it again from the registry, or register the "
            "model again"
        ) from err
    try:
        onnx_model = (folder / TWIN_FILE).read_bytes()
    except OSError as err:
        raise ModelLoadError(
            f"the ONNX twin {folder / TWIN_FILE} is missing or unreadable ({err.strerror}); "
            "the model folder is damaged: copy it again from the registry"
        ) from err
    if hashlib.sha256(onnx_model).hexdigest() != recorded_sha256:
        raise ModelLoadError(
            f"the ONNX twin {folder / TWIN_FILE} does not match the SHA-256 recorded in "
            f"{TWIN_META}: the file is corrupt or was replaced; refusing to serve it"
        )
    if twin_features != tuple(features):
        raise ModelLoadError(
            f"the ONNX twin takes features {twin_features} but the model's signature says "
            f"{tuple(features)}"
        )
    try:
        return _session_predict(onnx_model, name=str(folder / TWIN_FILE), n_features=len(features))
    except ModelLoadError:
        raise
    except Exception as err:  # onnxruntime's errors have no common public base class
        raise ModelLoadError(
            f"ONNX Runtime cannot load the twin {folder / TWIN_FILE}: {err}"
        ) from err


def _session_predict(
    onnx_model: bytes, *, name: str, n_features: int | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    # The service scores one request at a time per process on its event loop; a thread
    # pool per session costs more than it gives on one-row requests.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(onnx_model, options, providers=["CPUExecutionProvider"])
    inputs, outputs = session.get_inputs(), session.get_outputs()
    input_type = _ORT_TYPES.get(inputs[0].type) if len(inputs) == 1 else None
    if input_type is None:
        raise ModelLoadError(
            f"{name} must take one double or float tensor; it takes "
            f"{[(i.name, i.type) for i in inputs]}"
        )
    shape = inputs[0].shape
    if n_features is not None and (len(shape) != 2 or shape[1] != n_features):
        raise ModelLoadError(f"{name} takes inputs of shape {shape}, not (rows, {n_features})")
    input_name, output_name = inputs[0].name, outputs[0].name
    dtype = _NUMPY_TYPES[input_type]
    run = session.run
    output_names = [output_name]
    # One RunOptions for every call: without one, ONNX Runtime makes a default one per
    # call, a tenth of the run's cost on one row.
    run_options = ort.RunOptions()
    run_options.log_severity_level = 3

    def predict(matrix: np.ndarray) -> np.ndarray:
        if matrix.dtype != dtype:
            # A float64 value beyond float32's range becomes inf; the caller refuses
            # the non-finite prediction it gives.
            with np.errstate(over="ignore", invalid="ignore"):
                matrix = matrix.astype(dtype)
        result = run(output_names, {input_name: matrix}, run_options)[0]
        predictions = np.asarray(result, dtype=np.float64)
        # Regressors answer (rows, 1); scikit-learn's predict answers (rows,).
        if predictions.ndim == 2 and predictions.shape[1] == 1:
            return predictions[:, 0]
        return predictions

    return predict
