"""The shared scoring step: predictions out, non-finite predictions refused."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from ml_service.errors import ScoringInputError
from ml_service.models.load import LoadedModel
from ml_service.models.payloads import SMALL_BATCH_VALUES
from ml_service.models.scoring import score_azure_body, score_mlflow_body


def _model(predict) -> LoadedModel:
    return LoadedModel(
        uri="models:/m/1",
        name="m",
        version="1",
        features=("A", "B"),
        input_example=None,
        predict=predict,
    )


def test_both_formats_score_the_same_rows():
    model = _model(lambda matrix: matrix.sum(axis=1))
    azure = score_azure_body(model, b'{"data": [[1, 2], [3, 4]]}', max_rows=10)
    mlflow = score_mlflow_body(
        model,
        b'{"dataframe_split": {"columns": ["B", "A"], "data": [[2, 1], [4, 3]]}}',
        max_rows=10,
    )
    assert azure.predictions.tolist() == mlflow.predictions.tolist() == [3.0, 7.0]
    assert np.array_equal(azure.inputs, mlflow.inputs)


def test_non_finite_prediction_is_refused():
    model = _model(lambda matrix: np.where(matrix[:, 0] > 1, np.inf, 0.0))
    with pytest.raises(ScoringInputError, match="prediction for row 1 is not a finite number"):
        score_azure_body(model, b'{"data": [[1, 2], [3, 4]]}', max_rows=10)


@pytest.mark.parametrize("rows", [2, SMALL_BATCH_VALUES + 10])  # checked in Python, in numpy
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_non_finite_prediction_is_found_in_small_and_large_batches(rows, bad):
    def predict(matrix):
        predictions = matrix[:, 0].copy()
        predictions[-1] = bad
        return predictions

    body = orjson.dumps({"data": [[float(i), 0.0] for i in range(rows)]})
    with pytest.raises(ScoringInputError, match=f"prediction for row {rows - 1} is not a finite"):
        score_azure_body(_model(predict), body, max_rows=1000)
    finite = score_azure_body(_model(lambda matrix: matrix[:, 0]), body, max_rows=1000)
    assert finite.predictions.tolist() == [float(i) for i in range(rows)]
