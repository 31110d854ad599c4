"""Building and publishing the training pipeline, and finding it again."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml_service.errors import PipelineNotFoundError
from ml_service.pipelines import run_train_pipeline
from ml_service.pipelines.diabetes_regression_build_train_pipeline import main as build_main
from ml_service.pipelines.published import find, publish
from ml_service.pipelines.training import build_pipeline
from ml_service.registry.database import published_pipelines, registry_engine
from ml_service.settings import load_env


@pytest.mark.usefixtures("workspace")
def test_the_pipeline_has_the_three_steps_and_mlopspython_arguments() -> None:
    spec = build_pipeline(load_env())
    assert [s.display_name for s in spec.steps] == ["Train model", "Evaluate", "Register"]
    assert spec.name == "diabetes-Training-Pipeline"
    assert spec.version == "local"
    assert set(spec.parameters) == {
        "model_name",
        "dataset_version",
        "data_file_path",
        "caller_run_id",
    }
    train, evaluate, register = spec.steps
    assert train.module == "diabetes_regression.training.train_aml"
    for flag in ("--model_name", "--step_output", "--dataset_name", "--dataset_version",
                 "--data_file_path", "--caller_run_id"):  # fmt: skip
        assert flag in train.arguments
    assert evaluate.arguments[evaluate.arguments.index("--allow_run_cancel") + 1] == "true"
    assert "--step_input" in register.arguments


def test_run_evaluation_false_leaves_evaluate_out(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUN_EVALUATION", "false")
    monkeypatch.setenv("ALLOW_RUN_CANCEL", "false")
    monkeypatch.setenv("BUILD_BUILDID", "42")
    spec = build_pipeline(load_env())
    assert [s.id for s in spec.steps] == ["train", "register"]
    assert spec.version == "42"


def test_publishing_is_idempotent_and_a_changed_definition_replaces_the_old(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = build_main([])
    assert build_main([]).id == first.id
    monkeypatch.setenv("RUN_EVALUATION", "false")
    changed = build_main([])
    assert changed.id != first.id
    engine = registry_engine(load_env())
    assert find(engine, "diabetes-Training-Pipeline", "local").id == changed.id


def test_run_train_pipeline_finds_it_and_writes_its_id(workspace: Path, tmp_path: Path) -> None:
    published = build_main([])
    id_file = tmp_path / "pipeline_id.txt"
    result = run_train_pipeline.main(
        ["--skip_train_execution", "--output_pipeline_id_file", str(id_file)]
    )
    assert result is None
    assert id_file.read_text() == published.id


def test_clear_error_when_none_or_several(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(PipelineNotFoundError, match=r"no published pipeline .* build it first"):
        run_train_pipeline.main(["--skip_train_execution"])
    build_main([])
    monkeypatch.setenv("BUILD_BUILDID", "7")
    with pytest.raises(PipelineNotFoundError, match="version '7'; published versions: local"):
        run_train_pipeline.main(["--skip_train_execution"])
    monkeypatch.setenv("BUILD_BUILDID", "local")
    # Two publishers racing can leave two active definitions under one version.
    engine = registry_engine(load_env())
    spec = build_pipeline(load_env())
    with engine.begin() as connection:
        row = connection.execute(published_pipelines.select()).mappings().first()
        connection.execute(
            published_pipelines.insert().values({**row, "id": "other-id", "digest": "0" * 64})
        )
    with pytest.raises(PipelineNotFoundError, match="2 published pipelines match"):
        find(engine, spec.name, spec.version)
    assert publish(engine, spec)[0].id == find(engine, spec.name, spec.version).id
