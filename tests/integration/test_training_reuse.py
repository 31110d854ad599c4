"""The Train model step reuses a finished training only when nothing that decides the model
changed: a changed alpha in parameters.json, or changed training code, trains anew.

Runs on a bootstrapped copy of the model package (SOURCES_DIR_TRAIN), so the test
edits the copy's parameters.json and code, never the repository's.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

from ml_service.cli import cli
from ml_service.pipelines.contracts import TEST_DATA, TrainOutput
from ml_service.settings import load_env
from ml_service.tracking.store import configure_tracking
from tests.conftest import DIABETES_CSV

PACKAGE = "reuse_probe"


@pytest.fixture
def package(workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A bootstrapped copy of the model package, run from its project folder."""
    result = CliRunner().invoke(cli, ["bootstrap", "--name", PACKAGE, "--output", str(tmp_path)])
    assert result.exit_code == 0, result.output
    project = tmp_path / PACKAGE
    monkeypatch.chdir(project)
    monkeypatch.syspath_prepend(str(project))
    return project / PACKAGE


def _train(package: Path, output: Path) -> TrainOutput:
    step = importlib.import_module(f"{package.name}.training.train_aml")
    return step.main(  # type: ignore[no-any-return]
        ["--model_name", f"{package.name}_model", "--step_output", str(output),
         "--data_file_path", str(DIABETES_CSV)]
    )  # fmt: skip


def _client() -> MlflowClient:
    return configure_tracking(load_env()).client


def test_reuse_only_when_parameters_and_code_are_unchanged(package: Path, tmp_path: Path) -> None:
    first = _train(package, tmp_path / "1")
    assert not first.reused

    unchanged = _train(package, tmp_path / "2")
    assert unchanged.reused and unchanged.model_run_id == first.model_run_id
    assert unchanged.cache_key == first.cache_key
    # The reusing run hands on the held-out rows the training run recorded, not a new split.
    recorded = [a.path for a in _client().list_artifacts(first.model_run_id, "split")]
    assert recorded == [f"split/{TEST_DATA}"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "2" / TEST_DATA), pd.read_parquet(tmp_path / "1" / TEST_DATA)
    )

    parameters_file = package / "parameters.json"
    parameters = json.loads(parameters_file.read_text())
    parameters["training"]["alpha"] = 0.7
    parameters_file.write_text(json.dumps(parameters))
    new_alpha = _train(package, tmp_path / "3")
    assert not new_alpha.reused
    assert new_alpha.model_run_id != first.model_run_id
    assert _client().get_run(new_alpha.model_run_id).data.params["alpha"] == "0.7"
    assert new_alpha.metrics["mse"] != first.metrics["mse"]

    again = _train(package, tmp_path / "4")
    assert again.reused and again.model_run_id == new_alpha.model_run_id

    # A change to any source file of the training folder, even one that changes no
    # behaviour, trains again: the key cannot tell which changes matter.
    code = package / "training" / "train.py"
    code.write_text(code.read_text() + "\n# changed\n")
    new_code = _train(package, tmp_path / "5")
    assert not new_code.reused
    assert new_code.model_run_id not in (first.model_run_id, new_alpha.model_run_id)
    assert len({first.cache_key, new_alpha.cache_key, new_code.cache_key}) == 3
