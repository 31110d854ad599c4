"""Team mode end to end: `mlops server start` on PostgreSQL, every command through it.

These start a real MLflow server (subprocess) on a fresh database per test.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from sqlalchemy import create_engine, inspect, text

from ml_service.data.collected import read_collected
from ml_service.serving.smoke_test import call_scoring_service
from tests.conftest import free_port
from tests.team.team_support import DIABETES_CSV, MLOPS, SECRET, Server, base_env, mlops, pg_url

pytestmark = [pytest.mark.team, pytest.mark.slow]


def test_teammates_share_runs_models_datasets_pipelines_collected_data_and_no_secret_leaks(
    mlflow_server: Server, server_database: str, tmp_path: Path
) -> None:
    alice = base_env(tmp_path / "alice", MLFLOW_TRACKING_URI=mlflow_server.url)
    bob = base_env(tmp_path / "bob", MLFLOW_TRACKING_URI=mlflow_server.url)

    run = mlops(["run", "--data-file-path", str(DIABETES_CSV)], alice)
    assert run.returncode == 0, run.stderr
    assert "registered diabetes_regression_model version 1, now @champion" in run.stdout
    assert f"Open the MLflow UI: {mlflow_server.url}" in run.stdout

    # Bob, on his own workspace, sees what Alice registered and published.
    datasets = mlops(["data", "list"], bob)
    assert datasets.returncode == 0, datasets.stderr
    assert "diabetes_ds:1" in datasets.stdout
    models = mlops(["model", "list"], bob)
    assert "@champion=v1" in models.stdout
    lineage = mlops(["model", "lineage", "diabetes_regression_model@champion"], bob)
    assert "diabetes_ds:1" in lineage.stdout
    shown = mlops(["data", "show", "diabetes_ds:1"], bob)
    assert "rows     442" in shown.stdout
    # Bob's CI finds the pipeline Alice's build published (MLOpsPython's run_train_pipeline).
    id_file = tmp_path / "pipeline_id"
    found = subprocess.run(
        [
            sys.executable,
            "-m",
            "ml_service.pipelines.run_train_pipeline",
            "--skip_train_execution",
            "--output_pipeline_id_file",
            str(id_file),
        ],
        env=bob,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert found.returncode == 0, found.stderr
    published_id = id_file.read_text()
    assert f"(id {published_id})" in run.stderr
    again = mlops(["run"], bob)  # latest dataset version, through the shared registry
    assert again.returncode == 0, again.stderr
    assert "not better than champion v1" in again.stdout

    # Bob serves the champion: what it collects lands in the team's shared datastore.
    port = free_port()
    service = subprocess.Popen(
        [MLOPS, "serve", "--port", str(port)],
        env=bob,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        answer = call_scoring_service(f"http://127.0.0.1:{port}", attempts=120, wait_seconds=0.5)
        assert len(answer) == 2
    finally:
        service.send_signal(signal.SIGTERM)
        _, service_log = service.communicate(timeout=60)
    assert service.returncode in (0, -signal.SIGTERM), service_log  # uvicorn re-raises it
    collected = mlflow_server.artifacts / "datastore" / "collected" / "diabetes_regression_model"
    records = read_collected(
        str(mlflow_server.artifacts / "datastore"), "diabetes_regression_model"
    )
    assert collected.is_dir() and len(records) == 1
    assert not (tmp_path / "bob" / "datastore").exists()

    # The project's tables live in the server's database, beside MLflow's.
    engine = create_engine(pg_url(server_database))
    tables = set(inspect(engine).get_table_names())
    assert {"mlops_dataset_versions", "mlops_published_pipelines", "mlops_locks"} <= tables
    assert {"alembic_version", "mlops_alembic_version", "runs", "model_versions"} <= tables
    with engine.connect() as connection:
        published = connection.execute(
            text("select count(*) from mlops_published_pipelines where status = 'active'")
        ).scalar()
        stored = connection.execute(text("select uri from mlops_dataset_versions")).scalar()
    engine.dispose()
    assert published == 1
    assert str(stored).startswith((mlflow_server.artifacts / "datastore").as_uri())

    # The secret is nowhere: outputs, server log, run params/tags, version tags, tables.
    client = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
    recorded = []
    for experiment in client.search_experiments():
        recorded.append(json.dumps(dict(experiment.tags)))
        for found in client.search_runs([experiment.experiment_id]):
            recorded.append(json.dumps(found.data.params) + json.dumps(found.data.tags))
    for version in client.search_model_versions("name = 'diabetes_regression_model'"):
        recorded.append(json.dumps(version.tags) + str(version.source))
    with create_engine(pg_url(server_database)).connect() as connection:
        for table in ("mlops_dataset_versions", "mlops_published_pipelines", "mlops_locks"):
            recorded.append(str(connection.execute(text(f"select * from {table}")).all()))
    texts = [run.stdout, run.stderr, again.stdout, again.stderr, mlflow_server.output(), *recorded]
    assert all(SECRET not in t for t in texts)
    assert "postgres:***@" in mlflow_server.output()
    # Nor in the server processes' argument lists (`ps`).
    assert mlflow_server.process is not None
    cmdline = Path(f"/proc/{mlflow_server.process.pid}/cmdline").read_bytes()
    assert SECRET.encode() not in cmdline

    # A server without the team record (as plain `mlflow server` starts one) is
    # named in one line that says what to do.
    settings = client.get_experiment_by_name("mlops-team-settings")
    client.delete_experiment_tag(settings.experiment_id, "mlops.registry_uri")
    listed = mlops(
        ["data", "list"], base_env(tmp_path / "carol", MLFLOW_TRACKING_URI=mlflow_server.url)
    )
    assert listed.returncode == 1
    assert listed.stderr.count("\n") == 1
    assert "has no team registry recorded" in listed.stderr
    assert "MLOPS_REGISTRY_URI" in listed.stderr


def test_unreachable_database_is_one_line_naming_the_masked_uri(tmp_path: Path) -> None:
    env = base_env(tmp_path / "ws")
    bad = f"postgresql://postgres:{SECRET}@127.0.0.1:1/nowhere"
    started = mlops(
        ["server", "start", "--backend-store-uri", bad, "--artifacts-destination", str(tmp_path)],
        env,
        timeout=60,
    )
    assert started.returncode == 1
    lines = started.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: cannot reach the registry database ")
    assert "postgresql://postgres:***@127.0.0.1:1/nowhere" in lines[0]
    assert SECRET not in started.stderr + started.stdout

    listed = mlops(["data", "list"], {**env, "MLOPS_REGISTRY_URI": bad}, timeout=60)
    assert listed.returncode == 1
    assert listed.stderr.strip().splitlines() == [lines[0].replace("error: ", "error: ", 1)]


def test_server_refuses_a_backend_that_is_not_a_shared_database(tmp_path: Path) -> None:
    started = mlops(
        [
            "server",
            "start",
            "--backend-store-uri",
            f"sqlite:///{tmp_path}/x.db",
            "--artifacts-destination",
            str(tmp_path),
        ],
        base_env(tmp_path / "ws"),
        timeout=60,
    )
    assert started.returncode == 1
    assert "is not a database URL a team can share" in started.stderr
