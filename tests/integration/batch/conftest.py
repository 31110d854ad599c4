"""A workspace with the diabetes model registered (once per session) for batch-scoring tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from ml_service.cli import cli
from tests.conftest import DIABETES_CSV
from tests.integration.serving.diabetes_model import RegisteredModel, register_diabetes_model


@pytest.fixture(scope="session")
def batch_model(tmp_path_factory: pytest.TempPathFactory) -> RegisteredModel:
    """The diabetes Ridge model registered as version 1, alias champion, in its own workspace."""
    return register_diabetes_model(tmp_path_factory.mktemp("batch-workspace"))


@pytest.fixture
def batch_env(batch_model: RegisteredModel, workspace: Path, monkeypatch: pytest.MonkeyPatch):
    """Settings pointing at the model's workspace; the test runs in its own empty folder."""
    monkeypatch.setenv("MLOPS_WORKSPACE", str(batch_model.workspace))
    return batch_model


@pytest.fixture
def diabetes(tmp_path: Path) -> pd.DataFrame:
    """The bundled data (features, and the target as an extra column)."""
    return pd.read_csv(DIABETES_CSV)


def batch_score(*args: str) -> Result:
    """`mlops batch-score ARGS` in this process."""
    return CliRunner().invoke(cli, ["batch-score", *args])
