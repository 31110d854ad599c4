"""Scoring logic shared by the service's routes and `diabetes_regression/scoring/score.py`.

Body bytes in, predictions out: parse strictly, check against the model's
signature, predict on a float64 matrix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ml_service.errors import ScoringInputError
from ml_service.models.load import LoadedModel
from ml_service.models.payloads import (
    SMALL_BATCH_VALUES,
    decode_json,
    rows_from_azure_body,
    rows_from_mlflow_body,
)


@dataclass(frozen=True)
class ScoredBatch:
    """The rows a request carried and the model's predictions for them."""

    inputs: np.ndarray
    predictions: np.ndarray


def predict(model: LoadedModel, inputs: np.ndarray) -> np.ndarray:
    """The model's predictions for a checked matrix, refused if any is not a finite number.

    Finite but extreme inputs (1e308) can overflow a linear model to inf or NaN,
    which JSON cannot carry; that is the caller's input out of range, not a fault.

    Raises:
        ScoringInputError: a prediction is infinite or NaN.
    """
    if model.runtime == "onnx":
        # ONNX Runtime computes in C++, out of reach of numpy's error state (whose
        # context manager costs as much as the rest of this function on one row); the
        # twin's own float cast sets it itself.
        predictions = model.predict(inputs)
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            predictions = model.predict(inputs)
    if predictions.size <= SMALL_BATCH_VALUES:
        all_finite = all(map(math.isfinite, predictions.ravel().tolist()))
    else:
        all_finite = bool(np.isfinite(predictions).all())
    if not all_finite:
        row = int(np.argwhere(~np.isfinite(predictions))[0][0])
        raise ScoringInputError(
            f"the prediction for row {row} is not a finite number: its values are far outside "
            "the range the model was trained on"
        )
    return predictions


def score_azure_body(model: LoadedModel, body: bytes, *, max_rows: int) -> ScoredBatch:
    """Score Azure ML's body `{"data": [[numbers], ...]}`.

    Raises:
        ScoringInputError: the body is malformed (see `payloads`).
    """
    inputs = rows_from_azure_body(decode_json(body), model.features, max_rows=max_rows)
    return ScoredBatch(inputs=inputs, predictions=predict(model, inputs))


def score_mlflow_body(model: LoadedModel, body: bytes, *, max_rows: int) -> ScoredBatch:
    """Score an MLflow scoring-server body (`dataframe_split`, `dataframe_records`, `inputs`).

    Raises:
        ScoringInputError: the body is malformed (see `payloads`).
    """
    inputs = rows_from_mlflow_body(decode_json(body), model.features, max_rows=max_rows)
    return ScoredBatch(inputs=inputs, predictions=predict(model, inputs))
