"""`mlops monitor drift` against a model the pipeline trained and data the collector wrote."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from ml_service.cli import cli
from ml_service.cli.monitor import EXIT_DRIFT, EXIT_INSUFFICIENT_DATA, EXIT_NO_DRIFT
from ml_service.data.collected import DataCollector, ScoredRequest
from ml_service.models.load import load_model
from ml_service.models.resolve import resolve_model_uri
from ml_service.pipelines import run_train_pipeline
from ml_service.pipelines.diabetes_regression_build_train_pipeline import main as build_main
from ml_service.pipelines.local_orchestrator import COMPLETED
from ml_service.settings import load_env
from ml_service.tracking.store import configure_tracking
from tests.conftest import _SETTINGS, DIABETES_CSV, forget_mlflow_uris

MODEL = "diabetes_regression_model"
FEATURES = ["AGE", "SEX", "BMI", "BP", "S1", "S2", "S3", "S4", "S5", "S6"]


@pytest.fixture(scope="module")
def trained_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace where the pipeline trained and registered version 1 on the bundled data."""
    folder = tmp_path_factory.mktemp("monitoring") / "ws"
    with pytest.MonkeyPatch.context() as patch:
        for name in _SETTINGS:
            patch.delenv(name, raising=False)
        patch.setenv("MLOPS_WORKSPACE", str(folder))
        patch.chdir(folder.parent)
        build_main([])
        assert run_train_pipeline.main(["--data_file_path", str(DIABETES_CSV)]).status == COMPLETED
    forget_mlflow_uris()
    return folder


@pytest.fixture
def datastore(trained_workspace: Path, tmp_path: Path, monkeypatch) -> Iterator[Path]:
    """This test's own datastore for collected data, on the trained workspace."""
    for name in _SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLOPS_WORKSPACE", str(trained_workspace))
    folder = tmp_path / "datastore"
    monkeypatch.setenv("MLOPS_DATASTORE_URI", str(folder))
    monkeypatch.chdir(tmp_path)
    yield folder
    forget_mlflow_uris()


def collect(
    datastore: Path, frame: pd.DataFrame, version: str = "1", when: datetime | None = None
) -> None:
    """Score the rows with the registered model and collect them as the service does."""
    model = load_model(resolve_model_uri(f"models:/{MODEL}/1", load_env()))
    collector = DataCollector(str(datastore), MODEL)
    collector.start()
    # C order, as the service hands the collector its parsed request rows.
    inputs = np.ascontiguousarray(frame[FEATURES].to_numpy(dtype=np.float64))
    for i in range(0, len(inputs), 5):  # requests of up to 5 rows
        rows = inputs[i : i + 5]
        collector.collect(
            ScoredRequest(
                time=when or datetime.now(UTC),
                request_id=f"req-{version}-{i}",
                model_name=MODEL,
                model_version=version,
                features=tuple(FEATURES),
                inputs=rows,
                predictions=model.predict(rows),
            )
        )
    collector.close()
    assert collector.failed == 0


def traffic(diabetes_frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    return diabetes_frame.sample(n=rows, replace=True, random_state=seed).reset_index(drop=True)


def monitor(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["monitor", "drift", *args], catch_exceptions=False)


def test_traffic_like_the_training_data_is_no_drift(datastore, diabetes_frame, tmp_path):
    collect(datastore, traffic(diabetes_frame, 300, 1))
    result = monitor("--out", str(tmp_path / "report"))
    assert result.exit_code == EXIT_NO_DRIFT, result.output
    assert "version 1 vs diabetes_ds:1: no_drift" in result.output
    summary = json.loads((tmp_path / "report" / "drift_summary.json").read_text())
    assert summary["verdict"] == "no_drift"
    assert summary["current_rows"] == 300
    assert summary["reference"] == "diabetes_ds:1"
    assert [c["column"] for c in summary["columns"]] == [*FEATURES, "prediction"]
    html = (tmp_path / "report" / "drift_report.html").read_text()
    assert html.count("<svg") == 11
    assert "<script" not in html and 'src="http' not in html  # opens without a network

    run_id = result.output.rsplit("MLflow run: ", 1)[1].strip()
    client = configure_tracking(load_env()).client
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlops.monitoring.verdict"] == "no_drift"
    assert run.data.metrics["current_rows"] == 300
    assert "psi_BMI" in run.data.metrics
    logged = {a.path for a in client.list_artifacts(run_id, "drift")}
    assert logged == {"drift/drift_report.html", "drift/drift_summary.json"}


def test_one_shifted_feature_is_drift_on_that_feature(datastore, diabetes_frame, tmp_path):
    shifted = traffic(diabetes_frame, 300, 2)
    shifted["S3"] += diabetes_frame["S3"].std() * 1.5
    collect(datastore, shifted)
    result = monitor("--model", f"models:/{MODEL}@champion", "--out", str(tmp_path / "r"))
    assert result.exit_code == EXIT_DRIFT, result.output
    summary = json.loads((tmp_path / "r" / "drift_summary.json").read_text())
    assert summary["verdict"] == "drift"
    assert [c for c in summary["drifted_columns"] if c != "prediction"] == ["S3"]
    assert "  S3: PSI" in result.output


def test_too_little_data_gives_no_verdict(datastore, diabetes_frame):
    collect(datastore, traffic(diabetes_frame, 20, 3))
    result = monitor("--model", f"{MODEL}:1")
    assert result.exit_code == EXIT_INSUFFICIENT_DATA, result.output
    assert "insufficient_data: too little data for a verdict: 20 current rows" in result.output


def test_only_this_versions_traffic_in_the_window_counts(datastore, diabetes_frame):
    shifted = traffic(diabetes_frame, 300, 4)
    shifted["BMI"] += 1
    # Shifted traffic, but from another model version, or before the window.
    collect(datastore, shifted, version="7")
    collect(datastore, shifted, when=datetime(2020, 1, 1, tzinfo=UTC))
    collect(datastore, traffic(diabetes_frame, 200, 5))
    today = datetime.now(UTC).date().isoformat()
    assert monitor("--since", today).exit_code == EXIT_NO_DRIFT
    assert monitor("--until", "2020-01-01").exit_code == EXIT_DRIFT


def test_an_unknown_model_is_one_error_line(datastore):
    result = CliRunner().invoke(cli, ["monitor", "drift", "--model", f"{MODEL}:9"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"error: model {MODEL!r} has no version 9"]


def test_live_performance_joins_labels_by_request_id(datastore, diabetes_frame, tmp_path):
    rows = traffic(diabetes_frame, 100, 6)
    collect(datastore, rows)  # requests req-1-0, req-1-5, ... of 5 rows each
    labels = pd.DataFrame(
        {
            "request_id": [f"req-1-{(i // 5) * 5}" for i in range(len(rows))],
            "row": [i % 5 for i in range(len(rows))],
            "Y": rows["Y"],
        }
    )
    labels = pd.concat([labels, pd.DataFrame({"request_id": ["unknown"], "row": [0], "Y": [1.0]})])
    path = tmp_path / "labels.csv"
    labels.to_csv(path, index=False)
    result = CliRunner().invoke(
        cli, ["monitor", "performance", "--labels", str(path)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "100 labelled predictions (1 labels matched no prediction)" in result.output

    model = load_model(resolve_model_uri(f"models:/{MODEL}/1", load_env()))
    predictions = model.predict(np.ascontiguousarray(rows[FEATURES].to_numpy(dtype=np.float64)))
    expected_mse = float(np.mean((rows["Y"].to_numpy() - predictions) ** 2))
    run_id = result.output.rsplit("MLflow run: ", 1)[1].strip()
    run = configure_tracking(load_env()).client.get_run(run_id)
    assert run.data.tags["mlops.monitoring"] == "performance"
    assert run.data.metrics["live_mse"] == pytest.approx(expected_mse)
    assert run.data.metrics["matched_rows"] == 100
    assert {"training_mse", "training_r2"} <= set(run.data.metrics)


def test_labels_without_row_for_multi_row_requests_are_refused(datastore, diabetes_frame, tmp_path):
    rows = traffic(diabetes_frame, 10, 7)
    collect(datastore, rows)
    path = tmp_path / "labels.csv"
    pd.DataFrame({"request_id": ["req-1-0"], "Y": [100.0]}).to_csv(path, index=False)
    result = CliRunner().invoke(cli, ["monitor", "performance", "--labels", str(path)])
    assert result.exit_code == 1
    assert "add a 'row' column" in result.output
