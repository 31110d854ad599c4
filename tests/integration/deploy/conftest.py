"""A trained registry per session; a workspace per test whose endpoints all stop at its end."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.integration.deploy.support import (
    TrainedVersions,
    endpoint_record,
    fresh_workspace,
    mlops,
    pid_gone,
    register_versions,
)


@pytest.fixture(scope="session")
def trained_versions(tmp_path_factory: pytest.TempPathFactory) -> TrainedVersions:
    """Versions 1 (@champion) and 2 of the diabetes model, and version 3 whose answers are NaN."""
    return register_versions(tmp_path_factory.mktemp("trained"))


@dataclass
class DeployWorkspace:
    """A workspace for `mlops deploy` in subprocesses, and their environment."""

    path: Path
    env: dict[str, str]


@pytest.fixture
def deploy_workspace(trained_versions, tmp_path, monkeypatch) -> Iterator[DeployWorkspace]:
    """A fresh workspace; at the end, `mlops deploy stop` on each endpoint, pids checked gone."""
    monkeypatch.chdir(tmp_path)
    folder = fresh_workspace(trained_versions, tmp_path / "ws")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "MLFLOW_", "SCORING_"))
    }
    env["MLOPS_WORKSPACE"] = str(folder)
    env["SCORING_COLLECT_DATA"] = "false"
    env["PYTHONPATH"] = str(REPO_ROOT)
    workspace = DeployWorkspace(folder, env)
    yield workspace
    endpoints = folder / "endpoints"
    pids = []
    for endpoint in sorted(p.name for p in endpoints.iterdir()) if endpoints.is_dir() else []:
        record = endpoint_record(folder, endpoint)
        stopped = mlops("deploy", "stop", "--env", endpoint, env=env)
        assert stopped.returncode == 0, stopped.stderr
        if record:
            pids.append(record["pid"])
    assert all(pid_gone(pid) for pid in pids), f"still running: {pids}"
