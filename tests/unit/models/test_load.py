"""The direct evaluation of linear regressors, and reading features from an MLmodel."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.tree import DecisionTreeRegressor

from ml_service.errors import ModelLoadError
from ml_service.models.load import linear_predict, read_features

rng = np.random.default_rng(1)
X = rng.normal(size=(50, 4))
y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + 7


def test_linear_regressor_is_evaluated_directly_and_identically():
    ridge = Ridge(alpha=0.4).fit(X, y)
    predict = linear_predict(ridge, 4)
    assert predict is not None
    np.testing.assert_allclose(predict(X), ridge.predict(X), rtol=1e-12)
    assert predict(X[:1]).shape == (1,)


@pytest.mark.parametrize(
    "estimator",
    [
        DecisionTreeRegressor().fit(X, y),
        LogisticRegression().fit(X, y > 7),
        Ridge().fit(X, np.column_stack([y, y])),
    ],
    ids=["tree", "classifier", "multi-output"],
)
def test_other_estimators_keep_their_predict(estimator):
    assert linear_predict(estimator, 4) is None


def test_a_disagreeing_model_keeps_its_predict():
    class Shifted(Ridge):
        def predict(self, X):
            return super().predict(X) + 1

    assert linear_predict(Shifted().fit(X, y), 4) is None


def test_read_features_from_signature():
    columns = [{"type": "double", "name": name, "required": True} for name in ("A", "B")]
    assert read_features({"signature": {"inputs": json.dumps(columns)}}, "m") == ("A", "B")
    with pytest.raises(ModelLoadError, match="empty input signature"):
        read_features({"signature": {"inputs": "[]"}}, "m")
