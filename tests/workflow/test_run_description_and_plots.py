"""`mlops run --description` lands on the parent run; training logs its diagnostic plots."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from diabetes_regression.training.plots import PREDICTED_VS_ACTUAL, RESIDUALS, prediction_figures
from ml_service.registry.tags import RunTag


def _runs(described_run):  # type: ignore[no-untyped-def]
    experiment = described_run.client.get_experiment_by_name("mlopspython")
    return described_run.client.search_runs([experiment.experiment_id])


def test_description_is_the_parent_runs_note(described_run) -> None:  # type: ignore[no-untyped-def]
    runs = _runs(described_run)
    parents = [r for r in runs if RunTag.PARENT_RUN_ID not in r.data.tags]
    assert len(parents) == 1
    tags = parents[0].data.tags
    assert tags[RunTag.NOTE] == described_run.description
    assert tags["mlops.git_commit"]
    assert tags["mlops.git_dirty"] in ("true", "false")


def test_train_step_logs_prediction_plots_as_png(described_run) -> None:  # type: ignore[no-untyped-def]
    train = [r for r in _runs(described_run) if r.data.tags.get(RunTag.STEP) == "train"]
    assert len(train) == 1
    run_id = train[0].info.run_id
    names = {a.path for a in described_run.client.list_artifacts(run_id, "plots")}
    assert names == {f"plots/{PREDICTED_VS_ACTUAL}.png", f"plots/{RESIDUALS}.png"}
    local = described_run.client.download_artifacts(run_id, f"plots/{RESIDUALS}.png")
    with Image.open(local) as image:
        assert image.format == "PNG"
        assert image.size[0] > 100


def test_prediction_figures_plot_the_given_points() -> None:
    actual = np.array([1.0, 2.0, 3.0])
    predicted = np.array([1.5, 2.0, 2.0])
    figures = prediction_figures(actual, predicted)
    scatter = figures[PREDICTED_VS_ACTUAL].axes[0].collections[0].get_offsets()
    np.testing.assert_allclose(scatter, np.column_stack([actual, predicted]))
    residuals = figures[RESIDUALS].axes[0].collections[0].get_offsets()
    np.testing.assert_allclose(residuals, np.column_stack([predicted, actual - predicted]))


def test_prediction_figures_refuse_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="shape"):
        prediction_figures([1.0, 2.0], [1.0])
