"""The pure training functions, and the figure MLOpsPython's code gives on the bundled data."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from sklearn.linear_model import Ridge

from diabetes_regression.training.train import get_model_metrics, split_data, train_model


def test_split_data_holds_out_test_size(diabetes_frame: pd.DataFrame) -> None:
    split = split_data(diabetes_frame, "Y", test_size=0.2, random_state=0)
    assert len(split["train"]["X"]) == 353
    assert len(split["test"]["X"]) == 89
    assert "Y" not in split["train"]["X"].columns
    assert list(split["test"]["y"].index) == list(split["test"]["X"].index)


def test_split_data_is_reproducible(diabetes_frame: pd.DataFrame) -> None:
    first = split_data(diabetes_frame, "Y", 0.2, 0)
    second = split_data(diabetes_frame, "Y", 0.2, 0)
    other = split_data(diabetes_frame, "Y", 0.2, 1)
    assert first["test"]["X"].index.equals(second["test"]["X"].index)
    assert not first["test"]["X"].index.equals(other["test"]["X"].index)


def test_train_model_fits_ridge_with_alpha(diabetes_frame: pd.DataFrame) -> None:
    split = split_data(diabetes_frame, "Y", 0.2, 0)
    model = train_model(split["train"]["X"], split["train"]["y"], alpha=0.4)
    assert isinstance(model, Ridge)
    assert model.alpha == 0.4
    assert model.coef_.shape == (10,)


def test_reference_mse_on_bundled_data(diabetes_frame: pd.DataFrame) -> None:
    split = split_data(diabetes_frame, "Y", test_size=0.2, random_state=0)
    model = train_model(split["train"]["X"], split["train"]["y"], alpha=0.4)
    metrics = get_model_metrics(model, split["test"]["X"], split["test"]["y"])
    assert metrics["mse"] == pytest.approx(3295.71, abs=0.01)


def test_metrics_are_consistent() -> None:
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    y = pd.Series([0.0, 1.0, 2.0, 3.0])
    model = Ridge(alpha=1e-9).fit(X, y)
    perfect = get_model_metrics(model, X, y)
    assert perfect["mse"] == pytest.approx(0.0, abs=1e-9)
    assert perfect["r2"] == pytest.approx(1.0)
    noisy = get_model_metrics(model, X, pd.Series([1.0, 1.0, 2.0, 5.0]))
    assert noisy["rmse"] == pytest.approx(math.sqrt(noisy["mse"]))
    assert noisy["mae"] == pytest.approx((1 + 0 + 0 + 2) / 4)
    assert noisy["r2"] < 1
