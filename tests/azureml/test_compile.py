"""Compiled Azure ML assets: the SDK loads and validates each one; the golden files hold."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import yaml
from azure.ai import ml

from ml_service.pipelines.azureml import compiler
from ml_service.pipelines.azureml.assets import CODE_ROOT, relative_path, write_assets
from ml_service.pipelines.azureml.compiler import compile_training
from ml_service.pipelines.azureml.sdk import loader_name, validate_assets
from ml_service.pipelines.training import build_pipeline
from ml_service.settings import Env

GOLDEN = Path(__file__).parent / "golden"
CONDA_FILE = CODE_ROOT / "diabetes_regression" / "conda_dependencies.yml"


def normalized(text: str, out_dir: Path) -> str:
    """Rendered YAML with what depends on this checkout replaced by stable tokens."""
    digest = hashlib.sha256(CONDA_FILE.read_bytes()).hexdigest()[:12]
    for folder in (out_dir / "components", out_dir):  # the longer relative path first
        text = text.replace(relative_path(CODE_ROOT, folder), "<code root>")
    return text.replace(f"version: {digest}", "version: <conda file digest>")


def check_golden(kind: str, rendered: dict[str, str], out_dir: Path) -> None:
    folder = GOLDEN / kind
    if os.environ.get("UPDATE_GOLDEN"):
        for path, text in rendered.items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_text(normalized(text, out_dir), encoding="utf-8")
    expected = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.yml"))
    assert sorted(rendered) == expected, "set UPDATE_GOLDEN=1 and review the diff"
    for path, text in rendered.items():
        assert normalized(text, out_dir) == (folder / path).read_text(encoding="utf-8"), path


def test_training_assets_match_the_golden_files(default_env: Env, tmp_path: Path) -> None:
    out = tmp_path / "azureml"
    compiled = compile_training(build_pipeline(default_env), default_env, out)
    check_golden("training", compiled.rendered(), out)
    # Same definition and settings, same bytes.
    assert compile_training(build_pipeline(default_env), default_env, out).rendered() == (
        compiled.rendered()
    )


def test_every_training_asset_loads_and_validates_with_the_sdk(
    default_env: Env, tmp_path: Path
) -> None:
    out = tmp_path / "azureml"
    compiled = compile_training(build_pipeline(default_env), default_env, out)
    write_assets(compiled, out)
    entities = validate_assets(out, compiled)

    loaders = {asset.path: loader_name(asset.document) for asset in compiled.assets}
    assert loaders["pipeline.yml"] == "load_job"
    assert loaders["environment.yml"] == "load_environment"
    assert {loaders[f"components/{s}.yml"] for s in ("train", "evaluate", "register")} == {
        "load_component"
    }
    job = entities["pipeline.yml"]
    assert isinstance(job, ml.entities.PipelineJob)
    assert job.settings.default_compute == "train-cluster"
    assert job.experiment_name == "mlopspython"
    assert list(job.jobs) == ["train", "evaluate", "register"]
    assert set(job.inputs) == {"model_name", "dataset_version", "data_file_path", "caller_run_id"}
    for node in job.jobs.values():
        component = node.component
        assert component.is_deterministic is False
        assert (Path(component.base_path) / component.code).resolve() == CODE_ROOT
        assert component.environment.image == default_env.aml_env_base_image
        assert component.environment.conda_file == yaml.safe_load(CONDA_FILE.read_text())
    cluster = entities["compute.yml"]
    assert (cluster.size, cluster.min_instances, cluster.max_instances, cluster.tier) == (
        "STANDARD_DS2_V2",
        0,
        4,
        "low_priority",
    )
    # Register waits for Evaluate through data, as it does locally.
    assert job.jobs["register"]._to_dict()["inputs"]["after_evaluate"] == {
        "path": "${{parent.jobs.evaluate.outputs.step_output}}"
    }


def test_settings_shape_the_cluster_and_the_job(
    default_env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "AML_COMPUTE_CLUSTER_NAME": "cpu-cluster",
        "AML_COMPUTE_CLUSTER_CPU_SKU": "STANDARD_D4S_V3",
        "AML_CLUSTER_MIN_NODES": "1",
        "AML_CLUSTER_MAX_NODES": "2",
        "AML_CLUSTER_PRIORITY": "dedicated",
        "AML_ONLINE_INSTANCE_TYPE": "Standard_F4s_v2",
        "AML_ONLINE_INSTANCE_COUNT": "3",
        "RUN_EVALUATION": "false",
        "MLOPS_DATASTORE_URI": "abfs://data@account.dfs.core.windows.net/mlops",
    }.items():
        monkeypatch.setenv(name, value)
    env = Env(_env_file=None)  # type: ignore[call-arg]
    out = tmp_path / "azureml"
    compiled = compile_training(build_pipeline(env), env, out)
    entities = write_assets(compiled, out, validate=validate_assets) and validate_assets(
        out, compiled
    )
    job = entities["pipeline.yml"]
    assert job.settings.default_compute == "cpu-cluster"
    assert list(job.jobs) == ["train", "register"]
    assert job.jobs["register"]._to_dict()["inputs"]["step_input"] == {
        "path": "${{parent.jobs.train.outputs.step_output}}"
    }
    assert "after_train" not in job.jobs["register"]._to_dict()["inputs"]
    assert job.jobs["train"].environment_variables == {
        "MLOPS_DATASTORE_URI": "abfs://data@account.dfs.core.windows.net/mlops"
    }
    cluster = entities["compute.yml"]
    assert (cluster.name, cluster.size, cluster.min_instances, cluster.max_instances) == (
        "cpu-cluster",
        "STANDARD_D4S_V3",
        1,
        2,
    )
    assert cluster.tier == "dedicated"


def test_the_compiler_has_no_azure_import() -> None:
    # The compiler is pure: only the validation and submission load the SDK.
    source = Path(compiler.__file__).read_text(encoding="utf-8")
    assert "azure.ai" not in source and "import azure" not in source
