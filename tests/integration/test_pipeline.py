"""The whole pipeline through the local orchestrator, in-process and isolated."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

from ml_service.data.datasets import DatasetRegistry
from ml_service.errors import StepFailedError
from ml_service.pipelines import run_train_pipeline
from ml_service.pipelines.diabetes_regression_build_train_pipeline import main as build_main
from ml_service.pipelines.local_orchestrator import CANCELLED, COMPLETED
from ml_service.registry.models import lineage
from ml_service.settings import load_env
from ml_service.tracking.store import configure_tracking
from tests.conftest import BAD_EXAMPLES, DIABETES_CSV

MODEL = "diabetes_regression_model"


def _run(*args: str):  # type: ignore[no-untyped-def]
    build_main([])
    return run_train_pipeline.main(list(args))


def _client() -> MlflowClient:
    return configure_tracking(load_env()).client


def _versions(client: MlflowClient) -> list[str]:
    return sorted(str(v.version) for v in client.search_model_versions(f"name = '{MODEL}'"))


def _runs(client: MlflowClient):  # type: ignore[no-untyped-def]
    experiment = client.get_experiment_by_name("mlopspython")
    return client.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL)


def _step_pids(client: MlflowClient, pipeline_run_id: str) -> dict[str, str]:
    """The pid each step's code ran in, by step, as the steps tagged their runs."""
    return {
        r.info.run_name: r.data.tags["mlops.step_pid"]
        for r in _runs(client)
        if r.data.tags.get("mlflow.parentRunId") == pipeline_run_id
    }


@pytest.mark.usefixtures("workspace")
def test_first_run_registers_champion_second_is_cancelled_and_reuses_training() -> None:
    first = _run("--data_file_path", str(DIABETES_CSV))
    assert first.status == COMPLETED
    assert first.steps_run == ["train", "evaluate", "register"]
    client = _client()
    assert _versions(client) == ["1"]
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "1"

    runs = _runs(client)
    parent = client.get_run(first.run_id)
    assert parent.info.status == "FINISHED"
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == first.run_id]
    assert sorted(r.info.run_name for r in children) == ["Evaluate", "Register", "Train model"]
    assert all(r.info.status == "FINISHED" for r in children)
    assert parent.data.params["data_file_path"] == str(DIABETES_CSV)
    # Without --isolate_steps, the steps run in this very process.
    assert set(_step_pids(client, first.run_id).values()) == {str(os.getpid())}

    second = _run("--data_file_path", str(DIABETES_CSV))
    assert second.status == CANCELLED
    assert second.steps_run == ["train", "evaluate"]
    assert client.get_run(second.run_id).info.status == "KILLED"
    assert _versions(client) == ["1"]
    train_child = next(
        r for r in _runs(client)
        if r.data.tags.get("mlflow.parentRunId") == second.run_id and r.info.run_name == "Train model"
    )  # fmt: skip
    assert train_child.data.tags["mlops.reused_from"] == lineage(client, MODEL).run_id
    assert len(DatasetRegistry.from_env(load_env()).list_versions()) == 1


def test_better_challenger_takes_over(workspace: Path, small_subset_csv: Path) -> None:
    assert _run("--data_file_path", str(small_subset_csv)).status == COMPLETED
    client = _client()
    champion_v1 = lineage(client, f"{MODEL}@champion")
    assert champion_v1.dataset == "diabetes_ds:1"

    result = _run("--data_file_path", str(DIABETES_CSV))
    assert result.status == COMPLETED
    assert _versions(client) == ["1", "2"]
    trace = lineage(client, f"{MODEL}@champion")
    assert trace.version == "2"
    assert trace.aliases == ["champion"]
    assert trace.dataset == "diabetes_ds:2"
    dataset = DatasetRegistry.from_env(load_env()).get("diabetes_ds", 2)
    assert trace.dataset_digest == dataset.digest
    assert trace.pipeline_run_id == result.run_id
    assert trace.metrics["mse"] == pytest.approx(3295.71, abs=0.01)
    evaluate_child = next(
        r for r in _runs(client)
        if r.data.tags.get("mlflow.parentRunId") == result.run_id and r.info.run_name == "Evaluate"
    )  # fmt: skip
    assert (
        evaluate_child.data.metrics["challenger_mse"] < evaluate_child.data.metrics["champion_mse"]
    )


def test_without_run_cancel_the_pipeline_goes_on(
    workspace: Path, small_subset_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _run("--data_file_path", str(DIABETES_CSV)).status == COMPLETED
    monkeypatch.setenv("ALLOW_RUN_CANCEL", "false")
    # A weaker model, not better than the champion, still reaches Register.
    result = _run("--data_file_path", str(small_subset_csv), "--dataset_version", "latest")
    assert result.status == COMPLETED
    assert result.steps_run == ["train", "evaluate", "register"]
    assert _versions(_client()) == ["1", "2"]


def test_without_evaluation_every_run_registers(
    workspace: Path, small_subset_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUN_EVALUATION", "false")
    result = _run("--data_file_path", str(DIABETES_CSV))
    assert result.steps_run == ["train", "register"]
    assert _run("--data_file_path", str(small_subset_csv)).status == COMPLETED
    assert _versions(_client()) == ["1", "2"]


def test_bad_data_stops_at_validation_and_leaves_nothing(workspace: Path) -> None:
    with pytest.raises(
        StepFailedError, match=r"'Train model' failed: .*missing_values.csv: column 'BMI'"
    ):
        _run("--data_file_path", str(BAD_EXAMPLES / "missing_values.csv"))
    client = _client()
    assert DatasetRegistry.from_env(load_env()).list_versions() == []
    assert _versions(client) == []
    runs = _runs(client)
    assert runs and all(r.info.status == "FAILED" for r in runs)
    for run in runs:
        assert client.list_artifacts(run.info.run_id) == []
        assert not run.data.metrics
    assert not any((workspace / "pipeline_runs").glob("*/*"))
    assert not (workspace / "datastore").exists()


def test_isolated_steps_run_as_subprocesses(workspace: Path) -> None:
    result = _run(
        "--data_file_path", str(DIABETES_CSV), "--isolate_steps", "--caller_run_id", "ci-9"
    )
    assert result.status == COMPLETED
    client = _client()
    assert _versions(client) == ["1"]
    assert client.get_run(result.run_id).data.tags["mlops.caller_run_id"] == "ci-9"
    # Each step ran in a process of its own: neither this one (the orchestrator) nor another's.
    pids = _step_pids(client, result.run_id)
    assert sorted(pids) == ["Evaluate", "Register", "Train model"]
    assert str(os.getpid()) not in pids.values()
    assert len(set(pids.values())) == 3


def test_isolated_step_failure_reports_the_step_error(workspace: Path) -> None:
    with pytest.raises(StepFailedError, match="column 'S6': column is missing"):
        _run("--data_file_path", str(BAD_EXAMPLES / "missing_column.csv"), "--isolate_steps")


def test_reused_training_on_a_reordered_file_is_scored_against_another_champion(
    workspace: Path, tmp_path: Path, small_subset_csv: Path, diabetes_frame
) -> None:  # type: ignore[no-untyped-def]
    reordered = tmp_path / "reordered.csv"
    diabetes_frame[list(reversed(diabetes_frame.columns))].head(200).to_csv(reordered, index=False)
    assert _run("--data_file_path", str(reordered)).status == COMPLETED
    # A champion from other data, then the first data again: its training is
    # reused, and Evaluate scores it (columns in the file's order) against v2.
    _run("--data_file_path", str(DIABETES_CSV))
    client = _client()
    champion = lineage(client, MODEL)
    again = _run("--data_file_path", str(reordered))
    # v2 trained on most of these test rows, so it beats the reused v1 model: cancelled.
    assert again.status == CANCELLED
    assert again.steps_run == ["train", "evaluate"]
    children = {
        r.info.run_name: r
        for r in _runs(client)
        if r.data.tags.get("mlflow.parentRunId") == again.run_id
    }
    assert children["Train model"].data.tags["mlops.reused_from"] == (
        client.get_model_version(MODEL, "1").run_id
    )
    metrics = children["Evaluate"].data.metrics
    assert metrics["challenger_mse"] > metrics["champion_mse"]
    assert champion.version == "2"
    assert _versions(client) == ["1", "2"]
