"""`mlops retrain --if-new-data`: landed files trained on exactly once, bad ones quarantined."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from ml_service.cli import cli
from ml_service.data.datasets import DatasetRegistry
from ml_service.monitoring import retrain
from ml_service.monitoring.retrain import retrain_if_new_data
from ml_service.settings import load_env
from ml_service.tracking.store import configure_tracking
from tests.conftest import BAD_EXAMPLES, DIABETES_CSV

MLOPS = str(Path(sys.executable).parent / "mlops")


def land(workspace: Path, source: Path, name: str | None = None) -> Path:
    """Drop a file into the landing folder the way an upload would: written, then renamed."""
    landing = workspace / "datastore" / "landing"
    landing.mkdir(parents=True, exist_ok=True)
    target = landing / (name or source.name)
    partial = landing / f".{target.name}.partial"
    partial.write_bytes(source.read_bytes())
    partial.replace(target)
    return target


def jobs(workspace: Path, folder: str) -> list[Path]:
    root = workspace / "datastore" / "retrain" / folder
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []


def retrain_runs() -> list:  # type: ignore[type-arg]
    """Pipeline runs started by retraining jobs, any status."""
    tracking = configure_tracking(load_env())
    runs = tracking.client.search_runs(
        [tracking.experiment_id], filter_string="tags.`mlops.caller_run_id` LIKE 'retrain:%'"
    )
    return [run for run in runs if "mlops.pipeline_id" in run.data.tags]


def ended(runs: list) -> list:  # type: ignore[type-arg]
    return [r for r in runs if r.info.status in ("FINISHED", "KILLED")]


def subset(tmp_path: Path, rows: int, seed: int) -> Path:
    path = tmp_path / f"subset-{rows}-{seed}.csv"
    pd.read_csv(DIABETES_CSV).sample(n=rows, random_state=seed).to_csv(path, index=False)
    return path


def test_a_landed_file_is_registered_trained_on_and_done(workspace: Path) -> None:
    land(workspace, DIABETES_CSV)
    result = CliRunner().invoke(cli, ["retrain", "--if-new-data"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "diabetes.csv: registered diabetes_ds:1" in result.output
    assert "new champion diabetes_regression_model:1" in result.output

    [job] = jobs(workspace, "done")
    outcome = json.loads((job / "outcome.json").read_text())
    assert outcome["status"] == "trained"
    assert outcome["dataset"] == "diabetes_ds:1"
    assert outcome["pipeline_status"] == "completed"
    assert (job / "diabetes.csv").is_file()
    assert list((workspace / "datastore" / "landing").iterdir()) == []
    assert jobs(workspace, "processing") == []

    again = CliRunner().invoke(cli, ["retrain", "--if-new-data"])
    assert again.exit_code == 0
    assert "no new data in" in again.output
    assert len(retrain_runs()) == 1


def test_a_bad_file_is_quarantined_with_its_reason_and_trains_nothing(workspace: Path) -> None:
    land(workspace, BAD_EXAMPLES / "extra_column.csv")
    [outcome] = retrain_if_new_data(load_env())
    assert outcome.status == "quarantined"
    [job] = jobs(workspace, "quarantine")
    assert (job / "extra_column.csv").is_file()
    assert "unexpected column" in (job / "reason.txt").read_text()
    assert DatasetRegistry.from_env(load_env()).list_versions() == []
    assert retrain_runs() == []


@pytest.mark.parametrize(("policy", "rows"), [("append", 442 + 100), ("replace", 100)])
def test_the_policy_appends_to_or_replaces_the_latest_version(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str, rows: int
) -> None:
    monkeypatch.setenv("RETRAIN_DATASET_POLICY", policy)
    DatasetRegistry.from_env(load_env()).register("diabetes_ds", DIABETES_CSV, load_env_checks())
    land(workspace, subset(tmp_path, 100, 3), "new.csv")
    [outcome] = retrain_if_new_data(load_env())
    assert outcome.dataset == "diabetes_ds:2"
    assert DatasetRegistry.from_env(load_env()).get("diabetes_ds", 2).rows == rows


def load_env_checks():  # type: ignore[no-untyped-def]
    from ml_service.project.package import model_package

    return model_package(load_env()).data_checks()


def test_a_job_that_dies_after_training_is_finished_without_training_again(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    land(workspace, DIABETES_CSV)
    real_finish = retrain._finish

    def crash(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise SystemExit("killed after the pipeline ran, before the job was moved to done")

    monkeypatch.setattr(retrain, "_finish", crash)
    with pytest.raises(SystemExit):
        retrain_if_new_data(load_env())
    [left] = jobs(workspace, "processing")
    assert len(ended(retrain_runs())) == 1

    monkeypatch.setattr(retrain, "_finish", real_finish)
    [outcome] = retrain_if_new_data(load_env())
    assert outcome.job == left.name
    assert outcome.new_champion == "diabetes_regression_model:1"
    assert len(retrain_runs()) == 1  # read back, not run again
    assert [j.name for j in jobs(workspace, "done")] == [left.name]


def _start(subprocess_env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [MLOPS, "retrain", "--if-new-data"],
        env=subprocess_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_a_watcher_killed_mid_file_is_resumed_exactly_once(
    workspace: Path, subprocess_env: dict[str, str]
) -> None:
    land(workspace, DIABETES_CSV)
    process = _start(subprocess_env)
    processing = workspace / "datastore" / "retrain" / "processing"
    while process.poll() is None and not jobs(workspace, "processing"):
        time.sleep(0.02)
    assert process.poll() is None, "the watcher finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(30)
    [left] = jobs(workspace, "processing")
    assert (processing / left.name / "diabetes.csv").is_file()

    resumed = _start(subprocess_env)
    output, _ = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, output
    assert "diabetes.csv: registered diabetes_ds:1" in output
    assert jobs(workspace, "processing") == []
    assert [j.name for j in jobs(workspace, "done")] == [left.name]
    assert len(ended(retrain_runs())) == 1
    assert len(DatasetRegistry.from_env(load_env()).list_versions()) == 1


def test_two_watchers_at_once_never_train_twice_on_one_file(
    workspace: Path, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    names = ["first.csv", "second.csv"]
    land(workspace, DIABETES_CSV, names[0])
    land(workspace, subset(tmp_path, 200, 5), names[1])
    watchers = [_start(subprocess_env) for _ in range(2)]
    outputs = [w.communicate(timeout=900)[0] for w in watchers]
    assert [w.returncode for w in watchers] == [0, 0], outputs

    done = jobs(workspace, "done")
    trained = sorted(p.name for job in done for p in job.glob("*.csv"))
    assert trained == names  # each file in exactly one finished job
    runs = retrain_runs()
    assert len(runs) == 2
    assert sorted(r.data.tags["mlops.caller_run_id"] for r in runs) == sorted(
        f"retrain:{job.name}" for job in done
    )
    reported = [
        line
        for output in outputs
        for line in output.splitlines()
        if line.startswith(tuple(f"{name}: registered diabetes_ds:" for name in names))
    ]
    assert len(reported) == 2  # one watcher reports each file, once


def test_on_drift_retrains_only_when_there_is_newer_data(workspace: Path, tmp_path: Path) -> None:
    from tests.integration.test_monitoring import collect, traffic

    frame = pd.read_csv(DIABETES_CSV)
    land(workspace, subset(tmp_path, 150, 8), "first.csv")
    assert retrain_if_new_data(load_env())[0].new_champion == "diabetes_regression_model:1"
    shifted = traffic(frame, 300, 9)
    shifted["BMI"] += 0.9 * frame["BMI"].std()
    collect(workspace / "datastore", shifted)

    stuck = CliRunner().invoke(cli, ["retrain", "--on-drift"], catch_exceptions=False)
    assert stuck.exit_code == 3, stuck.output
    assert "drift check: drift" in stuck.output
    assert "no data newer than diabetes_ds:1" in stuck.output

    newer = tmp_path / "newer.csv"
    shifted.to_csv(newer, index=False)
    DatasetRegistry.from_env(load_env()).register("diabetes_ds", newer, load_env_checks())
    retrained = CliRunner().invoke(cli, ["retrain", "--on-drift"], catch_exceptions=False)
    assert retrained.exit_code == 0, retrained.output
    assert "retrained on drift: registered diabetes_ds:2, pipeline run" in retrained.output
    assert len(retrain_runs()) == 2


def test_a_file_whose_training_keeps_failing_is_set_aside_and_later_files_go_on(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETRAIN_MAX_ATTEMPTS", "2")
    calls = []

    def store_down(*args: object, **kwargs: object) -> None:
        calls.append(args)
        raise OSError("connection refused by the tracking server")

    # Fault injection: the pipeline run itself fails, as with a tracking server that is down.
    monkeypatch.setattr("ml_service.pipelines.training.run_published", store_down)
    land(workspace, DIABETES_CSV)
    with pytest.raises(OSError, match="connection refused"):
        retrain_if_new_data(load_env())  # attempt 1: the error stops the command
    [job] = jobs(workspace, "processing")
    assert (job / "attempts.txt").read_text() == "1\n"
    assert (job / "diabetes.csv").is_file()

    [outcome] = retrain_if_new_data(load_env())  # attempt 2 of 2: set aside, not raised
    assert outcome.status == "failed"
    assert outcome.dataset == f"{load_env().dataset_name}:1"
    assert "failed 2 times" in (outcome.reason or "")
    assert "connection refused" in (outcome.reason or "")
    assert jobs(workspace, "processing") == []
    [failed] = jobs(workspace, "failed")
    assert (failed / "diabetes.csv").is_file()
    assert "connection refused" in (failed / "reason.txt").read_text()
    assert json.loads((failed / "outcome.json").read_text())["status"] == "failed"
    assert len(calls) == 2

    # A file landed after it is claimed; the command says which file was set aside and exits 1.
    monkeypatch.setenv("RETRAIN_MAX_ATTEMPTS", "1")
    land(workspace, subset(tmp_path, 100, 3), "later.csv")
    result = CliRunner().invoke(cli, ["retrain", "--if-new-data"])
    assert result.exit_code == 1, result.output
    assert "later.csv: set aside in retrain/failed/" in result.output
    assert "move the file back to landing/" in result.output
    assert len(jobs(workspace, "failed")) == 2
    assert len(calls) == 3
    assert retrain_runs() == []


def test_watch_runs_the_same_logic_round_after_round(workspace: Path) -> None:
    land(workspace, BAD_EXAMPLES / "missing_values.csv")
    result = CliRunner().invoke(
        cli, ["watch", "--interval", "0.1", "--rounds", "2"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("missing_values.csv: quarantined:") == 1
    assert len(jobs(workspace, "quarantine")) == 1
    assert retrain_runs() == []


def test_retrain_says_when_to_retrain() -> None:
    result = CliRunner().invoke(cli, ["retrain"])
    assert result.exit_code == 2
    assert "--if-new-data and/or --on-drift" in result.output
