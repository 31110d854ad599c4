"""What benchmarks/README.md and bench_scoring.py say about MLflow holds for the pinned MLflow."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from mlflow.environment_variables import MLFLOW_ALLOW_PICKLE_DESERIALIZATION
from mlflow.exceptions import MlflowException
from sklearn.linear_model import Ridge

PICKLE = MLFLOW_ALLOW_PICKLE_DESERIALIZATION.name


@pytest.fixture
def skops_model(tmp_path: Path) -> Path:
    path = tmp_path / "model"
    mlflow.sklearn.save_model(
        Ridge().fit([[0.0], [1.0]], [0.0, 1.0]), path, serialization_format="skops"
    )
    return path


def test_mlflow_deserializes_models_by_default(
    skops_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PICKLE, raising=False)
    assert MLFLOW_ALLOW_PICKLE_DESERIALIZATION.get() is True
    assert mlflow.sklearn.load_model(str(skops_model)).predict([[2.0]]).shape == (1,)


def test_false_makes_mlflow_refuse_skops_models_too(
    skops_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PICKLE, "false")
    with pytest.raises(MlflowException, match=PICKLE):
        mlflow.sklearn.load_model(str(skops_model))
