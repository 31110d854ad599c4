"""Team mode under concurrency and faults, against PostgreSQL and a real MLflow server.

- 8 pipeline runs at once: unique, contiguous versions; one per run at most;
  @champion on the best model.
- A pipeline SIGKILLed mid-step: no version; the next run marks it FAILED.
- The tracking server stopped mid-run: the run retries and finishes once it is
  back, or fails with one clear error after the bound, never hangs.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from diabetes_regression.parameters import load_parameters
from diabetes_regression.training.train import split_data
from tests.team.team_support import DIABETES_CSV, Server, base_env, mlops, spawn_mlops

pytestmark = [pytest.mark.team, pytest.mark.slow]

MODEL = "diabetes_regression_model"


def noisy_variants(folder: Path, noise_levels: list[float]) -> list[Path]:
    """Data files with the same test rows and more or less noise on the training targets.

    The models they give are scored on identical test data, so "the best model"
    is well defined: the lowest test mse among all of them.
    """
    parameters = load_parameters()
    frame = pd.read_csv(DIABETES_CSV)
    target = parameters.data.target
    train_index = split_data(
        frame, target, parameters.training.test_size, parameters.training.random_state
    )["train"]["y"].index
    rng = np.random.default_rng(7)
    files = []
    for number, sigma in enumerate(noise_levels):
        variant = frame.copy()
        noise = rng.normal(0.0, sigma, len(train_index)) if sigma else np.zeros(len(train_index))
        noisy = (variant.loc[train_index, target] + noise).round().clip(1, 999)
        variant.loc[train_index, target] = noisy.astype(variant[target].dtype)
        path = folder / f"variant_{number}.csv"
        variant.to_csv(path, index=False)
        files.append(path)
    return files


def wait_for_step(client: MlflowClient, step: str, timeout: float = 120) -> Run:
    """The first RUNNING run of pipeline step `step` (polled)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        experiment = client.get_experiment_by_name("mlopspython")
        if experiment is not None:
            runs = client.search_runs(
                [experiment.experiment_id],
                f"tags.`mlops.step` = '{step}' and attributes.status = 'RUNNING'",
            )
            if runs:
                return runs[0]
        time.sleep(0.1)
    raise AssertionError(f"no {step} step started within {timeout} s")


def pipeline_runs(client: MlflowClient) -> list[Run]:
    experiment = client.get_experiment_by_name("mlopspython")
    return [
        run
        for run in client.search_runs([experiment.experiment_id], max_results=1000)
        if "mlops.pipeline_id" in run.data.tags
    ]


def test_eight_concurrent_pipelines_give_contiguous_versions_and_the_best_champion(
    mlflow_server: Server, tmp_path: Path
) -> None:
    rng = random.Random(3)
    levels = [0.0, 8.0, 16.0, 24.0, 32.0, 40.0, 48.0, 56.0]
    rng.shuffle(levels)
    files = noisy_variants(tmp_path, [*levels, 70.0])
    baseline = mlops(
        ["run", "--data-file-path", str(files[-1])],
        base_env(tmp_path / "ws-base", MLFLOW_TRACKING_URI=mlflow_server.url),
    )
    assert baseline.returncode == 0, baseline.stderr

    processes = [
        spawn_mlops(
            ["run", "--data-file-path", str(path)],
            base_env(tmp_path / f"ws-{n}", MLFLOW_TRACKING_URI=mlflow_server.url),
            tmp_path / f"run-{n}.log",
        )
        for n, path in enumerate(files[:-1])
    ]
    codes = [p.wait(timeout=280) for p in processes]
    logs = [(tmp_path / f"run-{n}.log").read_text() for n in range(len(processes))]
    assert codes == [0] * len(processes), "\n\n".join(logs)

    client = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
    runs = pipeline_runs(client)
    assert len(runs) == 9
    assert {run.info.status for run in runs} <= {"FINISHED", "KILLED"}

    versions = client.search_model_versions(f"name = '{MODEL}'")
    numbers = sorted(int(v.version) for v in versions)
    assert numbers == list(range(1, len(numbers) + 1))
    assert len({v.run_id for v in versions}) == len(versions)
    registered_pipelines = [v.tags["pipeline_run_id"] for v in versions]
    assert len(set(registered_pipelines)) == len(registered_pipelines)
    # Every pipeline run that finished registered exactly one version; cancelled ones none.
    finished = {run.info.run_id for run in runs if run.info.status == "FINISHED"}
    assert set(registered_pipelines) == finished

    experiment = client.get_experiment_by_name("mlopspython")
    trained = client.search_runs(
        [experiment.experiment_id], "tags.`mlops.step` = 'train'", max_results=100
    )
    best_mse = min(run.data.metrics["mse"] for run in trained)
    champion = client.get_model_version_by_alias(MODEL, "champion")
    assert float(champion.tags["mse"]) == pytest.approx(best_mse, rel=1e-5)

    # 9 data files registered at once (8 concurrently): 9 distinct dataset versions.
    listed = mlops(
        ["data", "list", "diabetes_ds"],
        base_env(tmp_path / "ws-check", MLFLOW_TRACKING_URI=mlflow_server.url),
    )
    assert [f"diabetes_ds:{n}" in listed.stdout for n in range(1, 10)] == [True] * 9


def test_sigkilled_pipeline_leaves_no_version_and_the_next_run_fails_it(
    mlflow_server: Server, tmp_path: Path
) -> None:
    env = base_env(tmp_path / "ws", MLFLOW_TRACKING_URI=mlflow_server.url)
    client = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
    victim = spawn_mlops(["run", "--data-file-path", str(DIABETES_CSV)], env, tmp_path / "v.log")
    step = wait_for_step(client, "train")
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)

    assert client.search_model_versions(f"name = '{MODEL}'") == []
    parent_id = step.data.tags["mlflow.parentRunId"]
    assert client.get_run(parent_id).info.status == "RUNNING"
    assert step.data.tags["mlops.pid"] == str(victim.pid)

    after = mlops(["run", "--data-file-path", str(DIABETES_CSV)], env)
    assert after.returncode == 0, after.stderr
    assert "marked 2 run(s) of dead processes as FAILED" in after.stderr
    for run_id in (parent_id, step.info.run_id):
        run = client.get_run(run_id)
        assert run.info.status == "FAILED"
        assert "died while running" in run.data.tags["mlops.failure"]
    assert [v.version for v in client.search_model_versions(f"name = '{MODEL}'")] == ["1"]


def _pause_during_training(
    server: Server, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """Start a pipeline, freeze it inside Train model, and stop the server under it."""
    client = MlflowClient(tracking_uri=server.url, registry_uri=server.url)
    process = spawn_mlops(["run", "--data-file-path", str(DIABETES_CSV)], env, log)
    wait_for_step(client, "train")
    os.killpg(process.pid, signal.SIGSTOP)
    server.stop()
    os.killpg(process.pid, signal.SIGCONT)
    return process


def test_pipeline_retries_while_the_server_is_down_and_finishes_when_it_is_back(
    mlflow_server: Server, tmp_path: Path
) -> None:
    # A wider retry bound than the default (about 30 s) so that a server slow to come
    # back on a loaded machine is still within it: what is tested is that the
    # pipeline waits through the outage, not how long the server takes to start.
    env = base_env(
        tmp_path / "ws",
        MLFLOW_TRACKING_URI=mlflow_server.url,
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="8",
        MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR="1",
    )
    process = _pause_during_training(mlflow_server, env, tmp_path / "run.log")
    time.sleep(3)
    mlflow_server.start(timeout=240)
    code = process.wait(timeout=600)
    output = (tmp_path / "run.log").read_text()
    assert code == 0, output
    assert "Retrying" in output  # urllib3's retry, as configured by MLFLOW_HTTP_REQUEST_*
    assert "registered diabetes_regression_model version 1, now @champion" in output


def test_pipeline_gives_one_clear_error_when_the_server_stays_down(
    mlflow_server: Server, tmp_path: Path
) -> None:
    env = base_env(
        tmp_path / "ws",
        MLFLOW_TRACKING_URI=mlflow_server.url,
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="2",
        MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR="1",
    )
    process = _pause_during_training(mlflow_server, env, tmp_path / "run.log")
    code = process.wait(timeout=300)
    output = (tmp_path / "run.log").read_text()
    assert code == 1, output
    last = output.strip().splitlines()[-1]
    assert last.startswith("error: ")
    assert f"the tracking server {mlflow_server.url} did not answer after 2 retries" in last
    assert "Traceback" not in output
    # Bounded by the retries asked for (urllib3 logs one line per retry), not by a clock.
    assert "Retrying (Retry(total=1," in output
    assert "Retrying (Retry(total=2," not in output
