"""Many `mlops run` started at once on a new workspace: every one succeeds.

A CI matrix, or a notebook started beside `make run`, creates the stores at the
same moment; MLflow's SQLite schema is created under a file lock so none of
them crashes, and Register's per-model lock leaves exactly one champion.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import DIABETES_CSV

MLOPS = str(Path(sys.executable).with_name("mlops"))
RUNS = 8

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_eight_first_runs_at_once_all_succeed(
    subprocess_env: dict[str, str], workspace: Path
) -> None:
    assert not workspace.exists()
    processes = [
        subprocess.Popen(
            [MLOPS, "run", "--data-file-path", str(DIABETES_CSV)],
            env=subprocess_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(RUNS)
    ]
    outcomes = [(process.wait(timeout=600), *process.communicate()) for process in processes]
    failed = [stderr for code, _, stderr in outcomes if code != 0]
    assert not failed, failed[0]

    uri = f"sqlite:///{workspace / 'mlflow.db'}"
    client = MlflowClient(uri, uri)
    versions = client.search_model_versions("name = 'diabetes_regression_model'")
    # Same data, same model: the first registers, the others are not better.
    assert [str(v.version) for v in versions] == ["1"]
    registered = [out for _, out, _ in outcomes if "now @champion" in out]
    assert len(registered) == 1
