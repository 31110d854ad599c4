"""The batch scoring pipeline compiled for Azure ML: a parallel job, then the copy step."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from azure.ai import ml
from click.testing import CliRunner

from diabetes_regression.scoring import parallel_batchscore
from ml_service.cli import cli
from ml_service.errors import AzureAssetError
from ml_service.pipelines.azureml.assets import CODE_ROOT, write_assets
from ml_service.pipelines.azureml.compiler import (
    MODEL_RECORD_FLAG,
    compile_batch,
    component_command,
)
from ml_service.pipelines.azureml.sdk import loader_name, validate_assets
from ml_service.pipelines.batch_scoring import build_pipeline
from ml_service.settings import Env
from tests.azureml.test_compile import CONDA_FILE, check_golden

SCRIPT = CODE_ROOT / "diabetes_regression" / "scoring" / "parallel_batchscore.py"


def test_batch_assets_match_the_golden_files(default_env: Env, tmp_path: Path) -> None:
    out = tmp_path / "batch"
    compiled = compile_batch(build_pipeline(default_env), default_env, out)
    check_golden("batch", compiled.rendered(), out)
    assert compile_batch(build_pipeline(default_env), default_env, out).rendered() == (
        compiled.rendered()
    )


def test_every_batch_asset_loads_and_validates_with_the_sdk(
    default_env: Env, tmp_path: Path
) -> None:
    out = tmp_path / "batch"
    compiled = compile_batch(build_pipeline(default_env), default_env, out)
    write_assets(compiled, out, validate=validate_assets)
    entities = validate_assets(out, compiled)

    loaders = {asset.path: loader_name(asset.document) for asset in compiled.assets}
    assert loaders == {
        "pipeline.yml": "load_job",
        "compute.yml": "load_compute",
        "environment.yml": "load_environment",
        "components/score.yml": "load_component",
        "components/copy_output.yml": "load_component",
    }
    job = ml.load_job(out / "pipeline.yml")
    assert isinstance(job, ml.entities.PipelineJob)
    assert not job._validate().error_messages
    assert entities["pipeline.yml"].settings.default_compute == "train-cluster"
    assert list(job.jobs) == ["score", "copy_output"]

    score = job.jobs["score"]
    assert isinstance(score, ml.entities.Parallel)
    parallel = score.component
    assert isinstance(parallel, ml.entities.ParallelComponent)
    assert (parallel.mini_batch_size, parallel.error_threshold) == (5, 10)
    assert parallel.resources.instance_count == 4
    assert parallel.task.type == "run_function"
    assert parallel.task.append_row_to == "${{outputs.step_output}}"
    # Each scoring process records its model in the output folder, for the copy step.
    assert parallel.task.program_arguments == f"{MODEL_RECORD_FLAG} ${{{{outputs.step_output}}}}"
    assert MODEL_RECORD_FLAG == parallel_batchscore.RECORD_FLAG
    # The task runs the scoring script that exists, with init()/run(mini_batch).
    code = Path(parallel.base_path) / parallel.task.code
    assert (code / parallel.task.entry_script).resolve() == SCRIPT
    assert "def init(" in SCRIPT.read_text() and "def run(mini_batch" in SCRIPT.read_text()
    assert score.environment_variables == {"MODEL_NAME": "diabetes_regression_model"}
    assert score._to_dict()["inputs"]["scoring_data"] == {"path": "${{parent.inputs.scoring_data}}"}
    assert job.inputs["scoring_data"].path.removeprefix("azureml:") == "diabetes_scoring_ds@latest"

    copy = job.jobs["copy_output"]
    assert isinstance(copy, ml.entities.Command)
    assert copy.component.command == component_command(build_pipeline(default_env).steps[1])
    assert copy._to_dict()["inputs"]["step_input"] == {
        "path": "${{parent.jobs.score.outputs.step_output}}"
    }
    # The same environment as the training components.
    for component in (parallel, copy.component):
        environment = component.task.environment if component is parallel else component.environment
        assert environment.image == default_env.aml_env_base_image
        assert environment.conda_file == yaml.safe_load(CONDA_FILE.read_text())


def test_settings_shape_the_parallel_job(
    default_env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AML_BATCH_MINI_BATCH_SIZE", "10MB")
    monkeypatch.setenv("AML_BATCH_ERROR_THRESHOLD", "-1")
    monkeypatch.setenv("AML_CLUSTER_MAX_NODES", "2")
    monkeypatch.setenv("MLOPS_DATASTORE_URI", "abfs://data@account.dfs.core.windows.net/mlops")
    env = Env(_env_file=None)  # type: ignore[call-arg]
    out = tmp_path / "batch"
    compiled = compile_batch(build_pipeline(env), env, out)
    write_assets(compiled, out, validate=validate_assets)
    job = ml.load_job(out / "pipeline.yml")
    parallel = job.jobs["score"].component
    assert parallel.mini_batch_size == 10 * 1024 * 1024
    assert parallel.error_threshold == -1
    assert parallel.resources.instance_count == 2
    for node in job.jobs.values():
        assert node.environment_variables["MLOPS_DATASTORE_URI"].startswith("abfs://")


def test_a_missing_scoring_script_is_refused(
    default_env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATCHSCORE_SCRIPT_PATH", "scoring/missing.py")
    env = Env(_env_file=None)  # type: ignore[call-arg]
    with pytest.raises(AzureAssetError, match="BATCHSCORE_SCRIPT_PATH"):
        compile_batch(build_pipeline(env), env, tmp_path / "batch")
    assert not (tmp_path / "batch").exists()


def test_compile_command_writes_the_batch_pipeline(default_env: Env, tmp_path: Path) -> None:
    out = tmp_path / "assets"
    result = CliRunner().invoke(
        cli,
        ["pipeline", "compile", "--target", "azureml", "--out", str(out), "--pipeline", "batch"],
    )
    assert result.exit_code == 0, result.output
    assert (out / "components" / "score.yml").is_file()
    assert ml.load_job(out / "pipeline.yml").jobs["score"].type == "parallel"
