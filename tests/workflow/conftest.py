"""Fixtures of the workflow tests: one pipeline run, with a description, in a fresh workspace."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

from ml_service.cli import cli
from ml_service.tracking import REPO_ROOT

DESCRIPTION = "baseline: Ridge alpha 0.4 on the bundled data, to have a first champion"


@dataclass(frozen=True)
class DescribedRun:
    """A finished `mlops run --description` and the tracking store it wrote to."""

    workspace: Path
    client: MlflowClient
    output: str
    description: str


@pytest.fixture(scope="package")
def described_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DescribedRun]:
    workspace = tmp_path_factory.mktemp("workflow") / "ws"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workspace.parent)
        patch.setenv("MLOPS_WORKSPACE", str(workspace))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        result = CliRunner().invoke(
            cli,
            [
                "run",
                "--data-file-path",
                str(REPO_ROOT / "data" / "diabetes.csv"),
                "--description",
                DESCRIPTION,
            ],
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        uri = f"sqlite:///{workspace / 'mlflow.db'}"
        yield DescribedRun(workspace, MlflowClient(uri, uri), result.output, DESCRIPTION)
