"""Pure training functions: split, fit, score. No I/O, no tracking.

scikit-learn is imported by the function that uses it (a second or more of
start-up), so a pipeline step that only reuses a model never imports it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.linear_model import Ridge


def split_data(
    frame: pd.DataFrame, target: str, test_size: float, random_state: int
) -> dict[str, dict[str, pd.DataFrame | pd.Series]]:
    """Split a frame into train and test sets of features X and target y.

    Returns:
        `{"train": {"X": ..., "y": ...}, "test": {"X": ..., "y": ...}}`.
    """
    from sklearn.model_selection import train_test_split

    features = frame.drop(columns=[target])
    X_train, X_test, y_train, y_test = train_test_split(
        features, frame[target], test_size=test_size, random_state=random_state
    )
    return {"train": {"X": X_train, "y": y_train}, "test": {"X": X_test, "y": y_test}}


def train_model(X_train: pd.DataFrame, y_train: pd.Series, alpha: float) -> Ridge:
    """Fit a Ridge regression."""
    from sklearn.linear_model import Ridge

    model = Ridge(alpha=alpha)
    model.fit(X_train, y_train)
    return model


def get_model_metrics(model: Ridge, X_test: pd.DataFrame, y_test: pd.Series) -> dict[str, float]:
    """Score a model on test data: mse, rmse, mae and r2."""
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    predictions = np.asarray(model.predict(X_test))
    mse = float(mean_squared_error(y_test, predictions))
    return {
        "mse": mse,
        "rmse": math.sqrt(mse),
        "mae": float(mean_absolute_error(y_test, predictions)),
        "r2": float(r2_score(y_test, predictions)),
    }
