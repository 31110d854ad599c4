"""Diagnostic figures of a regression model's test predictions; pure, no I/O.

The figures are matplotlib `Figure` objects made without pyplot, so no global
backend state is touched; saving them uses the Agg renderer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

PREDICTED_VS_ACTUAL = "predicted_vs_actual"
RESIDUALS = "residuals"


def prediction_figures(
    y_true: Sequence[float] | np.ndarray, y_pred: Sequence[float] | np.ndarray
) -> dict[str, Figure]:
    """Predicted against actual values, and residuals against predictions.

    Args:
        y_true: Actual target values of the test set.
        y_pred: The model's predictions for the same rows.

    Returns:
        `{"predicted_vs_actual": Figure, "residuals": Figure}`.
    """
    actual = np.asarray(y_true, dtype=float)
    predicted = np.asarray(y_pred, dtype=float)
    if actual.shape != predicted.shape:
        raise ValueError(f"y_true has shape {actual.shape} but y_pred has {predicted.shape}")

    scatter = Figure(figsize=(5, 5))
    axes = scatter.add_subplot()
    axes.scatter(actual, predicted, s=12, alpha=0.7)
    low, high = float(min(actual.min(), predicted.min())), float(max(actual.max(), predicted.max()))
    axes.plot([low, high], [low, high], linestyle="--", color="grey", label="perfect prediction")
    axes.set(xlabel="actual", ylabel="predicted", title="Predicted vs actual (test set)")
    axes.legend(loc="upper left")

    residuals = Figure(figsize=(5, 4))
    axes = residuals.add_subplot()
    axes.scatter(predicted, actual - predicted, s=12, alpha=0.7)
    axes.axhline(0.0, linestyle="--", color="grey")
    axes.set(xlabel="predicted", ylabel="actual − predicted", title="Residuals (test set)")

    return {PREDICTED_VS_ACTUAL: scatter, RESIDUALS: residuals}
