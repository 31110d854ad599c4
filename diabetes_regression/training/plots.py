"""Diagnostic figures of a regression model's test predictions; pure, no I/O.

The figures are matplotlib `Figure` objects made without pyplot, so no global
backend state is touched; saving them uses the Agg renderer.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MATPLOTLIB_MODULES = ("matplotlib.figure", "matplotlib.backends.backend_agg")
"""What drawing and saving the figures imports (about a second), for a caller to import ahead."""

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
    from matplotlib.figure import Figure

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


def prediction_pngs(
    y_true: Sequence[float] | np.ndarray, y_pred: Sequence[float] | np.ndarray
) -> dict[str, bytes]:
    """The figures of `prediction_figures`, rendered as PNG files (name → bytes).

    A plain function of plain arrays, so the pipeline can render them in its side
    process while the model is being logged.
    """
    rendered = {}
    for name, figure in prediction_figures(y_true, y_pred).items():
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        rendered[name] = buffer.getvalue()
    return rendered
