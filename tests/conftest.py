"""Fixtures shared by every test: an isolated workspace and the bundled data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from ml_service.settings import Env

REPO_ROOT = Path(__file__).resolve().parent.parent
DIABETES_CSV = REPO_ROOT / "data" / "diabetes.csv"
BAD_EXAMPLES = REPO_ROOT / "data" / "bad_examples"

# Settings a developer may have exported; tests start from the defaults. Every
# setting of the model (so a new one is cleared too) and MLflow's own variables.
_SETTINGS = (
    *(name.upper() for name in Env.model_fields),
    "MLFLOW_REGISTRY_URI",
    "MLFLOW_RUN_ID",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_ID",
)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh workspace folder; the test runs from its parent, away from any `.env`."""
    for name in list(os.environ):
        # Settings are matched case-insensitively: `scoring_key` counts too.
        if name.upper() in _SETTINGS:
            monkeypatch.delenv(name)
    folder = tmp_path / "ws"
    monkeypatch.setenv("MLOPS_WORKSPACE", str(folder))
    monkeypatch.chdir(tmp_path)
    yield folder
    while mlflow.active_run() is not None:
        mlflow.end_run()
    forget_mlflow_uris()


def forget_mlflow_uris() -> None:
    """Undo what configure_tracking set process-wide, so no later test talks to this store.

    mlflow.set_tracking_uri/set_registry_uri keep the URI in a global and in
    os.environ; a later MlflowClient built without a registry URI would
    otherwise read this test's registry.
    """
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    mlflow.set_registry_uri(None)  # type: ignore[arg-type]
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID",
                 "MLFLOW_EXPERIMENT_NAME"):  # fmt: skip
        os.environ.pop(name, None)


@pytest.fixture
def subprocess_env(workspace: Path) -> dict[str, str]:
    """The environment for a command run in a subprocess against the workspace."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    return env


@pytest.fixture(scope="session")
def diabetes_frame() -> pd.DataFrame:
    """The bundled diabetes data."""
    return pd.read_csv(DIABETES_CSV)


@pytest.fixture
def small_subset_csv(tmp_path: Path, diabetes_frame: pd.DataFrame) -> Path:
    """A 60-row random sample: a weaker model trains on it."""
    path = tmp_path / "diabetes_small.csv"
    diabetes_frame.sample(n=60, random_state=1).to_csv(path, index=False)
    return path


def free_port() -> int:
    """A loopback port nothing listens on now, for a server a test starts."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_module(module: str, args: list[str], env: dict[str, str]):  # type: ignore[no-untyped-def]
    """Run `python -m MODULE ARGS` as Azure ML would; returns the completed process."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", module, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
