"""`mlops deploy` against real endpoint processes: staging, production, failures, locking."""

from __future__ import annotations

import fcntl
import subprocess
import time

import pytest

from ml_service.settings import load_env
from tests.integration.deploy.support import (
    BROKEN_VERSION,
    MLOPS,
    MODEL_NAME,
    endpoint_record,
    get_json,
    mlops,
    pid_gone,
    score,
)

pytestmark = pytest.mark.slow


def _alias(workspace, alias: str) -> str | None:
    from mlflow import MlflowClient

    uri = f"sqlite:///{workspace / 'mlflow.db'}"
    try:
        return str(MlflowClient(uri, uri).get_model_version_by_alias(MODEL_NAME, alias).version)
    except Exception:
        return None


def _history(workspace) -> list:
    from ml_service.deploy.state import DeploymentState
    from ml_service.registry.database import registry_engine

    return DeploymentState(registry_engine(load_env(mlops_workspace=workspace))).history()


def test_staging_then_production_then_stop(deploy_workspace):
    ws, env = deploy_workspace.path, deploy_workspace.env

    staged = mlops("deploy", "--env", "staging", env=env)
    assert staged.returncode == 0, staged.stderr
    assert "staging: diabetes_regression_model version 1 takes all the traffic" in staged.stdout
    staging = endpoint_record(ws, "staging")
    assert staging is not None
    health = get_json(f"{staging['url']}/health")
    assert [(d["name"], d["model_version"], d["traffic"]) for d in health["deployments"]] == [
        ("blue", "1", 100)
    ]
    assert get_json(f"{staging['url']}/ready")["status"] == "ready"
    assert score(staging["url"]) == (200, "blue", "1")
    assert _alias(ws, "production") is None  # staging never moves the production alias

    promoted = mlops("deploy", "--env", "production", env=env)
    assert promoted.returncode == 0, promoted.stderr
    assert _alias(ws, "production") == "1"
    production = endpoint_record(ws, "production")
    assert production is not None and production["port"] != staging["port"]
    assert score(production["url"]) == (200, "blue", "1")

    status = mlops("deploy", "status", env=env)
    assert status.returncode == 0, status.stderr
    assert "production  http://127.0.0.1:" in status.stdout and "ready" in status.stdout
    assert "diabetes_regression_model:1" in status.stdout

    history = mlops("deploy", "history", "--env", "production", env=env)
    assert history.returncode == 0, history.stderr
    lines = history.stdout.strip().splitlines()
    assert len(lines) == 2 and "deploy" in lines[1] and "passed" in lines[1]
    assert "blue=100" in lines[1]

    stopped = mlops("deploy", "stop", "--env", "staging", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert f"stopped (pid {staging['pid']})" in stopped.stdout
    assert pid_gone(staging["pid"])
    assert endpoint_record(ws, "staging") is None
    assert "staging" not in mlops("deploy", "status", env=env).stdout


def test_a_version_failing_its_smoke_test_never_takes_production_traffic(deploy_workspace):
    ws, env = deploy_workspace.path, deploy_workspace.env
    assert mlops("deploy", "--env", "staging", env=env).returncode == 0
    assert mlops("deploy", "--env", "production", env=env).returncode == 0
    production = endpoint_record(ws, "production")
    assert production is not None

    broken = mlops(
        "deploy", "--env", "production", "--model", f"models:/{MODEL_NAME}/{BROKEN_VERSION}",
        env=env,
    )  # fmt: skip
    assert broken.returncode == 1
    last = broken.stderr.strip().splitlines()[-1]
    assert last.startswith("error: production: version 3 not deployed: smoke test failed")
    assert "version 1 keeps serving" in last
    assert "Traceback" not in broken.stderr

    # Same process, old version, all the traffic; the alias did not move.
    assert endpoint_record(ws, "production") == production
    health = get_json(f"{production['url']}/health")
    assert [(d["name"], d["model_version"], d["traffic"]) for d in health["deployments"]] == [
        ("blue", "1", 100)
    ]
    assert all(score(production["url"])[2] == "1" for _ in range(20))
    assert _alias(ws, "production") == "1"
    failed = [e for e in _history(ws) if e.smoke_test == "failed"]
    assert [(e.endpoint, e.model_version, e.traffic) for e in failed] == [
        ("production", "3", {"blue": 100})
    ]


def test_a_first_deploy_that_fails_leaves_nothing_running(deploy_workspace):
    ws, env = deploy_workspace.path, deploy_workspace.env
    done = mlops(
        "deploy", "--env", "staging", "--model", f"models:/{MODEL_NAME}/{BROKEN_VERSION}", env=env
    )
    assert done.returncode == 1
    assert "smoke test failed" in done.stderr
    assert endpoint_record(ws, "staging") is None
    assert "no endpoint deployed" in mlops("deploy", "status", env=env).stdout


def test_two_deploys_at_once_on_one_endpoint_run_one_after_the_other(deploy_workspace, tmp_path):
    ws, env = deploy_workspace.path, deploy_workspace.env
    assert mlops("deploy", "--env", "staging", env=env).returncode == 0
    # Hold the endpoint's deploy lock as a deploy in progress would; start two more.
    with (ws / "endpoints" / "staging" / "deploy.lock").open("a+b") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        logs = [tmp_path / f"deploy-{v}.log" for v in ("2", "1")]
        both = []
        for version, log in zip(("2", "1"), logs, strict=True):
            with log.open("w") as output:
                both.append(
                    subprocess.Popen(
                        [
                            MLOPS,
                            "deploy",
                            "--env",
                            "staging",
                            "--model",
                            f"models:/{MODEL_NAME}/{version}",
                        ],
                        env=env,
                        stdout=output,
                        stderr=subprocess.STDOUT,
                        text=True,
                    )
                )
        waiting = "another deploy on staging is under way; waiting"
        while not all(waiting in log.read_text() for log in logs):
            assert all(p.poll() is None for p in both), [log.read_text() for log in logs]
            time.sleep(0.1)
        fcntl.flock(held, fcntl.LOCK_UN)
    assert [p.wait(timeout=400) for p in both] == [0, 0], [log.read_text() for log in logs]
    # Consistent: one deployment takes all the traffic; the history holds each change.
    record = endpoint_record(ws, "staging")
    assert record is not None
    health = get_json(f"{record['url']}/health")
    assert len(health["deployments"]) == 1 and health["deployments"][0]["traffic"] == 100
    entries = [e for e in _history(ws) if e.endpoint == "staging"]
    assert [e.smoke_test for e in entries] == ["passed"] * len(entries)
    assert {e.model_version for e in entries} == {"1", "2"}
    assert entries[-1].model_version == health["deployments"][0]["model_version"]
    assert entries[-1].traffic == {health["deployments"][0]["name"]: 100}


def test_deploy_needs_an_endpoint_or_a_subcommand(deploy_workspace):
    done = mlops("deploy", env=deploy_workspace.env)
    assert done.returncode == 2
    assert "give --env" in done.stderr
    nothing = mlops("deploy", "--env", "production", env=deploy_workspace.env)
    assert nothing.returncode == 1
    assert "staging serves nothing to promote" in nothing.stderr
