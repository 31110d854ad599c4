"""The model artifact: written only for a model the build registered, read back checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ml_service.ci.artifact import ModelArtifact
from ml_service.cli import cli
from ml_service.errors import ModelArtifactError
from ml_service.pipelines import run_train_pipeline
from ml_service.pipelines.diabetes_regression_build_train_pipeline import main as build_main
from tests.conftest import DIABETES_CSV

ARTIFACT = ModelArtifact(
    name="diabetes_regression_model",
    version="3",
    uri="models:/diabetes_regression_model/3",
    metrics={"mse": 3000.5},
    build_id="1234",
    build_uri="https://ci.example/builds/1234",
    run_id="abc",
    dataset="diabetes_ds:1",
    git_commit=None,
    aliases=["champion"],
)


def test_an_artifact_reads_back_as_written(tmp_path: Path) -> None:
    path = tmp_path / "reports" / "model.json"
    ARTIFACT.write(path)
    assert ModelArtifact.read(path) == ARTIFACT
    assert not list(path.parent.glob("*.partial"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found: the CI build publishes it only when it registered a model"),
        ("{not json", "is not a model artifact"),
        (json.dumps({"name": "m"}), "is not a model artifact"),
        (json.dumps({**ARTIFACT.model_dump(), "extra": 1}), "is not a model artifact"),
    ],
)
def test_a_bad_artifact_is_one_clear_error(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "model.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ModelArtifactError, match=message):
        ModelArtifact.read(path)


def test_read_artifact_prints_one_field_for_a_pipeline_variable(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    ARTIFACT.write(path)
    runner = CliRunner()
    version = runner.invoke(cli, ["ci", "read-artifact", str(path), "--field", "version"])
    assert (version.exit_code, version.output) == (0, "3\n")
    whole = runner.invoke(cli, ["ci", "read-artifact", str(path)])
    assert json.loads(whole.output) == ARTIFACT.model_dump()
    missing = runner.invoke(cli, ["ci", "read-artifact", str(tmp_path / "none.json")])
    assert missing.exit_code == 1
    assert missing.output.startswith("error: ") and "not found" in missing.output


@pytest.mark.usefixtures("workspace")
def test_a_local_build_id_is_refused() -> None:
    done = CliRunner().invoke(cli, ["ci", "model-artifact", "--out", "model.json"])
    assert done.exit_code == 1
    assert "BUILD_BUILDID is `local`" in done.output


def _train_build(build_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the CI's train stage does for one build: publish, find, run."""
    monkeypatch.setenv("BUILD_BUILDID", build_id)
    monkeypatch.setenv("BUILD_URI", f"https://ci.example/builds/{build_id}")
    build_main([])
    run_train_pipeline.main(["--skip_train_execution"])
    run_train_pipeline.main(["--data_file_path", str(DIABETES_CSV), "--caller_run_id", build_id])


def test_only_the_build_that_registered_a_model_gets_an_artifact(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "reports" / "model.json"
    runner = CliRunner()

    _train_build("101", monkeypatch)
    first = runner.invoke(cli, ["ci", "model-artifact", "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert "build 101 registered diabetes_regression_model version 1" in first.output
    artifact = ModelArtifact.read(out)
    assert (artifact.name, artifact.version, artifact.build_id) == (
        "diabetes_regression_model",
        "1",
        "101",
    )
    assert artifact.uri == "models:/diabetes_regression_model/1"
    assert artifact.build_uri == "https://ci.example/builds/101"
    assert artifact.metrics and all(value >= 0 for value in artifact.metrics.values())

    # The same code and data again: the training is reused, its model is registered
    # already, so this build registers nothing, and the earlier file must not stay.
    _train_build("102", monkeypatch)
    second = runner.invoke(cli, ["ci", "model-artifact", "--out", str(out)])
    assert second.exit_code == 0, second.output
    assert "no new model was registered by build 102" in second.output
    assert not out.exists()

    # Build 101's artifact can still be written on demand.
    again = runner.invoke(cli, ["ci", "model-artifact", "--out", str(out), "--build-id", "101"])
    assert again.exit_code == 0 and ModelArtifact.read(out).version == "1"
