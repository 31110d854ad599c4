"""MLOpsPython's batch scoring pipeline, run by the local orchestrator; parallel_batchscore's contract."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from diabetes_regression.scoring import parallel_batchscore
from ml_service.cli import cli
from ml_service.data.datastore import datastore_uri
from ml_service.pipelines import (
    diabetes_regression_build_parallel_batchscore_pipeline as build,
)
from ml_service.pipelines import run_parallel_batchscore_pipeline as run
from ml_service.pipelines.contracts import BatchScoreOutput
from ml_service.settings import load_env
from tests.conftest import DIABETES_CSV
from tests.integration.batch.test_batch_score import model_predictions
from tests.integration.serving.diabetes_model import FEATURES


@pytest.mark.slow
def test_the_published_pipeline_scores_and_copies_to_a_dated_datastore_folder(
    batch_env, diabetes, tmp_path
):
    id_file = tmp_path / "pipeline_id.txt"
    published = build.main(["--output_pipeline_id_file", str(id_file)])
    assert id_file.read_text() == published.id
    assert [s.display_name for s in published.spec.steps] == ["Batch score", "Copy output"]

    result = run.main(["--data_file_path", str(DIABETES_CSV)])
    assert result.status == "completed", result
    assert result.steps_run == ["score", "copy_output"]
    scored = BatchScoreOutput.read(result.step_outputs["score"]["step_output"])
    assert (scored.model_name, scored.model_version) == ("diabetes_regression_model", "1")
    assert scored.rows_scored == 442 and scored.rows_rejected == 0

    day = datetime.now(UTC).strftime("%Y-%m-%d")
    folder = f"{datastore_uri(load_env())}/scores/diabetes_regression_model/1/{day}"
    copied = pd.read_parquet(f"{folder}/scores.parquet")
    np.testing.assert_allclose(
        copied["score"], model_predictions(batch_env.local_dir, diabetes), rtol=1e-12
    )
    location = result.step_outputs["copy_output"]["step_output"] / "scores_location.txt"
    assert location.read_text().strip().endswith(f"scores/diabetes_regression_model/1/{day}")

    # Without a file it scores SCORING_DATASET_NAME, a registered dataset version.
    registered = CliRunner().invoke(
        cli, ["data", "register", "--name", "diabetes_scoring_ds", "--path", str(DIABETES_CSV)]
    )
    assert registered.exit_code == 0, registered.output
    again = run.main(["--model_version", "1"])
    assert again.status == "completed"
    from_dataset = BatchScoreOutput.read(again.step_outputs["score"]["step_output"])
    assert from_dataset.input.startswith("diabetes_scoring_ds:")
    assert from_dataset.scores_digest == scored.scores_digest  # same rows, same bytes


def test_init_then_run_on_a_data_frame_mini_batch(batch_env, diabetes):
    parallel_batchscore.init()
    mini_batch = diabetes.iloc[:6].astype({"BMI": object}).copy()
    mini_batch.loc[2, "BMI"] = "n/a"
    result = parallel_batchscore.run(mini_batch)
    kept = diabetes.iloc[[0, 1, 3, 4, 5]]
    assert len(result) == 5  # Azure ML counts the missing row as a failed item
    np.testing.assert_allclose(result["Y"], kept["Y"])
    np.testing.assert_allclose(
        result["score"], model_predictions(batch_env.local_dir, kept), rtol=1e-12
    )


def test_init_then_run_on_a_list_of_files(batch_env, diabetes, tmp_path):
    parallel_batchscore.init(f"models:/{batch_env.name}/1")
    first, second = tmp_path / "a.csv", tmp_path / "b.parquet"
    diabetes.iloc[:10].to_csv(first, index=False)
    diabetes.iloc[10:25].to_parquet(second, index=False)
    result = parallel_batchscore.run([str(first), str(second)])
    assert len(result) == 25
    np.testing.assert_allclose(result[list(FEATURES)], diabetes.iloc[:25][list(FEATURES)])
    np.testing.assert_allclose(
        result["score"], model_predictions(batch_env.local_dir, diabetes.iloc[:25]), rtol=1e-12
    )


def test_run_before_init_says_so(monkeypatch):
    monkeypatch.setattr(parallel_batchscore, "model", None)
    with pytest.raises(RuntimeError, match="init"):
        parallel_batchscore.run(pd.DataFrame())
