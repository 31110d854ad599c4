"""`mlops batch-score` on real files with a registered model: order, scores, formats, rejects."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from ml_service.batch import recorder, sqlite_run
from ml_service.cli import cli
from tests.conftest import DIABETES_CSV
from tests.integration.batch.conftest import batch_score
from tests.integration.serving.diabetes_model import FEATURES


def model_predictions(model_dir: Path, frame: pd.DataFrame) -> np.ndarray:
    """What the model itself predicts, loaded by MLflow, on the same rows."""
    model = mlflow.pyfunc.load_model(str(model_dir))
    return np.asarray(model.predict(frame[list(FEATURES)]), dtype=np.float64)


def read_any(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_scores_equal_the_models_predict_in_input_order_across_chunks_and_workers(
    batch_env, diabetes, tmp_path, workers
):
    shuffled = diabetes.sample(frac=1.0, random_state=7).reset_index(drop=True)
    source = tmp_path / "shuffled.csv"
    shuffled.to_csv(source, index=False)
    output = tmp_path / "scores.parquet"
    result = batch_score(
        "--input", str(source), "--output", str(output),
        "--workers", workers, "--chunk-rows", "37", "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    scored = pd.read_parquet(output)
    assert list(scored.columns) == [*shuffled.columns, "score"]
    assert len(scored) == len(shuffled) == 442
    np.testing.assert_array_equal(scored["Y"], shuffled["Y"])  # same rows, same order
    np.testing.assert_array_equal(scored[list(FEATURES)], shuffled[list(FEATURES)])
    np.testing.assert_allclose(
        scored["score"], model_predictions(batch_env.local_dir, shuffled), rtol=1e-12
    )


@pytest.mark.parametrize(
    ("source_suffix", "output_name", "extra"),
    [
        (".csv", "out.csv", []),
        (".parquet", "out.parquet", []),
        (".csv", "out.parquet", []),
        (".parquet", "out.data", ["--format", "csv"]),
    ],
)
def test_csv_and_parquet_in_and_out(
    batch_env, diabetes, tmp_path, source_suffix, output_name, extra
):
    source = tmp_path / f"input{source_suffix}"
    if source_suffix == ".csv":
        diabetes.to_csv(source, index=False)
    else:
        diabetes.to_parquet(source, index=False)
    output = tmp_path / output_name
    result = batch_score(
        "--input", str(source), "--output", str(output), "--workers", "1", "--score-column",
        "predicted_y", *extra,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(output) if "csv" in extra or output.suffix == ".csv" else read_any(output)
    np.testing.assert_allclose(
        scored["predicted_y"], model_predictions(batch_env.local_dir, diabetes), rtol=1e-12
    )
    assert "scored 442 rows (0 rejected)" in result.output
    assert f"output   {output}" in result.output


def test_a_folder_is_scored_file_by_file_in_name_order(batch_env, diabetes, tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    diabetes.iloc[:100].to_csv(folder / "part-1.csv", index=False)
    diabetes.iloc[100:300].to_parquet(folder / "part-2.parquet", index=False)
    diabetes.iloc[300:].to_csv(folder / "part-3.csv", index=False)
    (folder / "_SUCCESS").write_text("")
    (folder / "notes.txt").write_text("not data")
    output = tmp_path / "scores.csv"
    result = batch_score("--input", str(folder), "--output", str(output), "--chunk-rows", "64")
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(output)
    np.testing.assert_allclose(scored["Y"], diabetes["Y"])
    np.testing.assert_allclose(
        scored["score"], model_predictions(batch_env.local_dir, diabetes), rtol=1e-12
    )


@pytest.mark.parametrize("name", ["scores.csv", "scores.parquet"])
def test_a_rerun_writes_the_same_bytes_whatever_the_workers_and_chunks(batch_env, tmp_path, name):
    outputs = []
    for run, (workers, chunk) in enumerate([("1", "50"), ("2", "50"), ("2", "7")]):
        output = tmp_path / str(run) / name
        result = batch_score(
            "--input", str(DIABETES_CSV), "--output", str(output),
            "--workers", workers, "--chunk-rows", chunk, "--quiet",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        outputs.append(output.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]


def bad_rows_csv(diabetes: pd.DataFrame, path: Path) -> Path:
    frame = diabetes.astype({"BMI": object, "S3": object})
    frame.loc[3, "BMI"] = ""
    frame.loc[10, "S3"] = "high"
    frame.loc[20, "BMI"] = "inf"
    frame.to_csv(path, index=False)
    return path


def test_bad_rows_go_to_the_rejects_file_and_the_rest_is_scored(batch_env, diabetes, tmp_path):
    source = bad_rows_csv(diabetes, tmp_path / "bad.csv")
    output = tmp_path / "out" / "scores.parquet"
    result = batch_score(
        "--input", str(source), "--output", str(output), "--error-threshold", "3",
        "--chunk-rows", "8",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "scored 439 rows (3 rejected)" in result.output
    rejects = pd.read_csv(tmp_path / "out" / "scores.rejects.csv")
    assert rejects["row"].tolist() == [4, 11, 21]  # data rows, counted from 1
    assert rejects["reason"].tolist() == [
        "BMI: missing value",
        "S3: not a number ('high')",
        "BMI: not a finite number (inf)",
    ]
    assert set(rejects["file"]) == {str(source)}
    scored = pd.read_parquet(output)
    kept = diabetes.drop(index=[3, 10, 20])
    np.testing.assert_array_equal(scored["Y"], kept["Y"])
    np.testing.assert_allclose(scored["score"], model_predictions(batch_env.local_dir, kept))


@pytest.mark.parametrize("threshold", ["2", "0.5%"])
def test_more_rejects_than_the_threshold_fail_the_job_and_write_no_output(
    batch_env, diabetes, tmp_path, threshold
):
    source = bad_rows_csv(diabetes, tmp_path / "bad.csv")
    output = tmp_path / "scores.csv"
    result = batch_score(
        "--input", str(source), "--output", str(output), "--error-threshold", threshold
    )
    assert result.exit_code == 1
    assert result.output.startswith(
        f"error: 3 of 442 rows rejected, more than --error-threshold {threshold} allows; "
        "no output written"
    )
    assert not output.exists()
    assert len(pd.read_csv(tmp_path / "scores.rejects.csv")) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "scores.rejects.csv"]


def test_no_limit_keeps_going(batch_env, diabetes, tmp_path):
    source = bad_rows_csv(diabetes, tmp_path / "bad.csv")
    output = tmp_path / "scores.csv"
    result = batch_score("--input", str(source), "--output", str(output), "--error-threshold", "-1")
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(output)) == 439


@pytest.fixture(params=["straight into sqlite", "through mlflow in a child process"])
def recorded_by(request, batch_env, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each way a job is recorded, the other one made to fail the test if it is used."""
    client = mlflow.MlflowClient(batch_env.tracking_uri)
    if client.get_experiment_by_name("batch-scoring") is None:
        client.create_experiment(
            "batch-scoring", artifact_location=(batch_env.workspace / "artifacts").as_uri()
        )
    if request.param == "straight into sqlite":

        def no_child() -> None:
            raise AssertionError("MLflow was started in a child process")

        monkeypatch.setattr(recorder, "RunRecorder", no_child)
    else:
        monkeypatch.setattr(sqlite_run.SqliteRecorder, "open", classmethod(lambda cls, env: None))
    return str(request.param)


def test_the_job_is_an_mlflow_run_with_its_lineage_and_speed(batch_env, tmp_path, recorded_by):
    output = tmp_path / "scores.parquet"
    before = int(time.time() * 1000)
    result = batch_score("--input", str(DIABETES_CSV), "--output", str(output), "--workers", "1")
    assert result.exit_code == 0, result.output
    run_id = result.output.split("  run      ")[1].split()[0]
    client = mlflow.MlflowClient(batch_env.tracking_uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "batch-score diabetes_regression_model v1"
    assert run.info.lifecycle_stage == "active"
    assert run.info.artifact_uri.endswith(f"/{run_id}/artifacts")
    assert before <= run.info.start_time <= run.info.end_time <= int(time.time() * 1000)
    tags, metrics, params = run.data.tags, run.data.metrics, run.data.params
    assert tags["mlops.model_name"] == "diabetes_regression_model"
    assert tags["mlops.model_version"] == "1"
    assert tags["mlops.batch.output"] == str(output)
    assert tags["mlops.batch.output_digest"] == hashlib.sha256(output.read_bytes()).hexdigest()
    assert tags["mlops.batch.input_digest"] == hashlib.sha256(DIABETES_CSV.read_bytes()).hexdigest()
    assert metrics["rows_scored"] == 442 and metrics["rows_rejected"] == 0
    assert metrics["seconds"] > 0 and metrics["rows_per_second"] > 0
    assert params == {
        "model_name": "diabetes_regression_model",
        "model_version": "1",
        "workers": "1",
        "chunk_rows": "65536",
        "error_threshold": "1%",
        "score_column": "score",
    }
    assert [h.value for h in client.get_metric_history(run_id, "rows_scored")] == [442]
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "batch-scoring"
    found = client.search_runs(
        [experiment.experiment_id],
        f"metrics.rows_scored = 442 and tags.`mlops.batch.output` = '{output}'",
    )
    assert [r.info.run_id for r in found] == [run_id]


def fresh_store(folder: Path) -> str:
    """A tracking store MLflow has set up (its tables and Default experiment), nothing else."""
    folder.mkdir(parents=True)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    mlflow.MlflowClient(uri).search_experiments()
    return uri


def test_the_first_job_of_a_workspace_creates_the_experiment_as_mlflow_would_without_it(
    batch_env, tmp_path, monkeypatch: pytest.MonkeyPatch
):
    def no_child() -> None:
        raise AssertionError("MLflow was started in a child process")

    monkeypatch.setattr(recorder, "RunRecorder", no_child)
    # The experiment as MLflow creates it (as `configure_tracking` asks), in another store.
    by_mlflow = tmp_path / "by-mlflow"
    other = mlflow.MlflowClient(fresh_store(by_mlflow))
    other.create_experiment("batch-scoring", artifact_location=(by_mlflow / "artifacts").as_uri())
    expected = other.get_experiment_by_name("batch-scoring")

    workspace = tmp_path / "first-job"
    uri = fresh_store(workspace)
    monkeypatch.setenv("MLOPS_WORKSPACE", str(workspace))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    before = int(time.time() * 1000)
    for output in ("one.csv", "two.csv"):
        result = batch_score(
            "--model", str(batch_env.local_dir), "--input", str(DIABETES_CSV),
            "--output", str(tmp_path / output), "--quiet",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("batch-scoring")
    assert experiment is not None and expected is not None
    assert experiment.experiment_id == expected.experiment_id == "1"
    assert experiment.artifact_location == (workspace / "artifacts").as_uri()
    assert expected.artifact_location == (by_mlflow / "artifacts").as_uri()
    assert experiment.lifecycle_stage == expected.lifecycle_stage == "active"
    assert experiment.tags == expected.tags
    assert before <= experiment.creation_time == experiment.last_update_time
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 2
    assert {run.data.tags["mlops.batch.output"] for run in runs} == {
        str(tmp_path / "one.csv"),
        str(tmp_path / "two.csv"),
    }
    assert [e.name for e in client.search_experiments()] == ["batch-scoring", "Default"]


def test_two_first_jobs_recording_at_once_create_the_experiment_once(tmp_path, monkeypatch):
    from ml_service.batch.result import BatchRequest, BatchResult
    from ml_service.settings import load_env

    uri = fresh_store(tmp_path / "workspace")
    monkeypatch.setenv("MLOPS_WORKSPACE", str(tmp_path / "workspace"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    env = load_env()
    # Both opened before either records: each found no experiment.
    recorders = [sqlite_run.SqliteRecorder.open(env) for _ in range(2)]
    assert all(r is not None and r.experiment_id is None for r in recorders)
    request = BatchRequest(input="in.csv", output="out.csv")
    result = BatchResult(
        model_uri="models:/m/1", model_name="m", model_version="1", input="in.csv",
        input_digest="0" * 64, dataset_ref=None, output="out.csv", output_digest="1" * 64,
        rejects="out.rejects.csv", rows_scored=3, rows_rejected=0, seconds=0.5, workers=1,
    )  # fmt: skip
    run_ids = [r.record(result, request, "1%", int(time.time() * 1000)) for r in recorders if r]
    client = mlflow.MlflowClient(uri)
    experiments = [e for e in client.search_experiments() if e.name == "batch-scoring"]
    assert len(experiments) == 1
    found = client.search_runs([experiments[0].experiment_id])
    assert sorted(run.info.run_id for run in found) == sorted(run_ids)


def test_a_store_mlflow_has_not_set_up_is_left_to_mlflow(batch_env, tmp_path, monkeypatch):
    uri = fresh_store(tmp_path / "workspace")
    import sqlite3

    with sqlite3.connect(tmp_path / "workspace" / "mlflow.db") as db:
        db.execute("DELETE FROM experiments")
    monkeypatch.setenv("MLOPS_WORKSPACE", str(tmp_path / "workspace"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    from ml_service.settings import load_env

    assert sqlite_run.SqliteRecorder.open(load_env()) is None


def test_the_sqlite_schema_written_is_the_installed_mlflows(batch_env):
    # An MLflow upgrade that changes the schema makes the job record through MLflow
    # (slower) until the tables it writes are checked against the new revision.
    client = mlflow.MlflowClient(batch_env.tracking_uri)
    client.search_experiments()
    import sqlite3

    with sqlite3.connect(batch_env.workspace / "mlflow.db") as db:
        (revision,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
    assert revision in sqlite_run.KNOWN_REVISIONS


def test_a_registered_dataset_version_is_an_input(batch_env, tmp_path):
    registered = CliRunner().invoke(
        cli, ["data", "register", "--name", "batch_input_ds", "--path", str(DIABETES_CSV)]
    )
    assert registered.exit_code == 0, registered.output
    output = tmp_path / "scores.csv"
    result = batch_score("--input", "batch_input_ds:latest", "--output", str(output))
    assert result.exit_code == 0, result.output
    assert "= batch_input_ds:" in result.output
    assert len(pd.read_csv(output)) == 442
    version = (
        registered.output.split("registered ")[1].split()[0]
        if "registered " in registered.output
        else None
    )
    if version:
        again = batch_score("--input", version, "--output", str(tmp_path / "again.csv"))
        assert again.exit_code == 0, again.output
        assert (tmp_path / "again.csv").read_bytes() == output.read_bytes()


def test_an_fsspec_url_is_an_input_and_an_output(batch_env, diabetes):
    import fsspec

    fs = fsspec.filesystem("memory")
    with fs.open("/batch-in/data.parquet", "wb") as handle:
        diabetes.to_parquet(handle, index=False)
    result = batch_score(
        "--input", "memory://batch-in/data.parquet", "--output", "memory://batch-out/s.parquet"
    )
    assert result.exit_code == 0, result.output
    with fs.open("/batch-out/s.parquet", "rb") as handle:
        scored = pq.read_table(handle).to_pandas()
    assert len(scored) == 442
    assert fs.exists("/batch-out/s.rejects.csv")
