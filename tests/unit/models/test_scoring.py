"""The shared scoring step: predictions out, non-finite predictions refused."""

from __future__ import annotations

import numpy as np
import pytest

from ml_service.errors import ScoringInputError
from ml_service.models.load import LoadedModel
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
