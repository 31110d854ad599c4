"""Fixtures of the workflow tests: one pipeline run, with a description, in a fresh workspace."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from ml_service.settings import Env
from tests.conftest import REPO_ROOT

MLOPS = Path(sys.executable).with_name("mlops")

DESCRIPTION = "baseline: Ridge alpha 0.4 on the bundled data, to have a first champion"


@dataclass(frozen=True)
class DescribedRun:
    """A finished `mlops run --description` and the tracking store it wrote to."""

    workspace: Path
    client: MlflowClient
    output: str
    description: str


def _clean_env(**settings: str) -> dict[str, str]:
    # Start from the defaults: no setting a developer exported (MODEL_NAME, ...) leaks in.
    known = {name.upper() for name in Env.model_fields}
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in known and not k.startswith(("MLOPS_", "MLFLOW_"))
    }
    return {**env, **settings}


@pytest.fixture(scope="package")
def described_run(tmp_path_factory: pytest.TempPathFactory) -> DescribedRun:
    # A process of its own, as a person runs it: no MLflow state leaks into other tests.
    workspace = tmp_path_factory.mktemp("workflow") / "ws"
    completed = subprocess.run(
        [
            str(MLOPS),
            "run",
            "--data-file-path",
            str(REPO_ROOT / "data" / "diabetes.csv"),
            "--description",
            DESCRIPTION,
        ],
        cwd=workspace.parent,
        env=_clean_env(MLOPS_WORKSPACE=str(workspace)),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    uri = f"sqlite:///{workspace / 'mlflow.db'}"
    return DescribedRun(workspace, MlflowClient(uri, uri), completed.stdout, DESCRIPTION)


@pytest.fixture
def reset_mlflow_uris(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """For tests that configure tracking in-process: leave MLflow's globals as found."""
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(name, raising=False)
    yield
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    mlflow.set_registry_uri(None)  # type: ignore[arg-type]
