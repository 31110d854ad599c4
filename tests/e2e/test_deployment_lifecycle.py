"""Train → staging → production → canary → promote → rollback, with zero failed requests.

A request loop scores against production the whole time; every change of the
endpoint happens in the running process, so not one of its requests may fail.
"""

from __future__ import annotations

import threading
import urllib.error

import pytest

from ml_service.settings import load_env
from tests.integration.deploy.conftest import deploy_workspace, trained_versions  # noqa: F401
from tests.integration.deploy.support import (
    MODEL_NAME,
    endpoint_record,
    get_json,
    mlops,
    score,
)

pytestmark = pytest.mark.e2e

CANARY_PERCENT = 10
MEASURED_REQUESTS = 1000


class RequestLoop:
    """Scores against a URL in a thread until stopped; counts answers and failures."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answered = 0
        self.failures: list[str] = []
        self.versions: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                status, _, version = score(self.url)
            except (urllib.error.URLError, OSError) as err:
                self.failures.append(repr(err))
                continue
            if status != 200:
                self.failures.append(f"HTTP {status}")
            self.answered += 1
            self.versions.add(version or "")

    def __enter__(self) -> RequestLoop:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)


def _production_alias(workspace) -> str:
    from mlflow import MlflowClient

    uri = f"sqlite:///{workspace / 'mlflow.db'}"
    return str(MlflowClient(uri, uri).get_model_version_by_alias(MODEL_NAME, "production").version)


def _served(url: str) -> list[tuple[str, str, int]]:
    return [
        (d["name"], d["model_version"], d["traffic"])
        for d in get_json(f"{url}/health")["deployments"]
    ]


def test_deployment_lifecycle_drops_no_request(deploy_workspace):  # noqa: F811
    ws, env = deploy_workspace.path, deploy_workspace.env

    def run(*args: str) -> str:
        done = mlops(*args, env=env)
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("deploy", "--env", "staging")
    run("deploy", "--env", "production")
    assert _production_alias(ws) == "1"
    record = endpoint_record(ws, "production")
    assert record is not None
    url = record["url"]

    with RequestLoop(url) as loop:
        # Canary: version 2 takes ~10 %, pinned requests reach either deployment.
        run("deploy", "--env", "production", "--model", f"models:/{MODEL_NAME}/2",
            "--canary", str(CANARY_PERCENT))  # fmt: skip
        assert _served(url) == [("blue", "1", 90), ("green", "2", 10)]
        assert _production_alias(ws) == "1"  # the alias waits for the promotion
        seen = [score(url)[1] for _ in range(MEASURED_REQUESTS)]
        share = seen.count("green") / len(seen)
        assert abs(share - CANARY_PERCENT / 100) < 0.05, share
        assert score(url, "green")[1:] == ("green", "2")
        assert score(url, "blue")[1:] == ("blue", "1")
        # The service's own counts since the split (the loop's requests included).
        counts = {d["name"]: d for d in get_json(f"{url}/endpoint")["deployments"]}
        total = counts["blue"]["requests"] + counts["green"]["requests"]
        assert total >= MEASURED_REQUESTS
        assert abs(counts["green"]["requests"] / total - CANARY_PERCENT / 100) < 0.05
        assert counts["blue"]["errors"] == counts["green"]["errors"] == 0
        assert counts["green"]["p99_ms"] is not None
        status = run("deploy", "status")
        assert "green" in status and "diabetes_regression_model:2" in status

        run("deploy", "promote", "--env", "production")
        assert _served(url) == [("green", "2", 100)]
        assert _production_alias(ws) == "2"

        run("deploy", "rollback", "--env", "production")
        assert _served(url) == [("blue", "1", 100)]
        assert _production_alias(ws) == "1"
        rolled_back_answers = loop.answered

    assert loop.failures == []
    assert rolled_back_answers > 0
    assert loop.versions == {"1", "2"}
    assert endpoint_record(ws, "production") == record  # one process throughout

    from ml_service.deploy.state import DeploymentState
    from ml_service.registry.database import registry_engine

    entries = DeploymentState(registry_engine(load_env(mlops_workspace=ws))).history("production")
    assert [(e.action, e.model_version, e.smoke_test, e.traffic) for e in entries] == [
        ("deploy", "1", "passed", {"blue": 100}),
        ("canary", "2", "passed", {"blue": 90, "green": 10}),
        ("promote", "2", "-", {"green": 100}),
        ("rollback", "1", "passed", {"blue": 100}),
    ]
    history = run("deploy", "history")
    assert history.count("staging") == 1 and history.count("production") == 4
