"""Submitting to Azure ML against a fake MLClient that records the calls; every clear error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from azure.ai import ml
from click.testing import CliRunner

from ml_service.cli import cli
from ml_service.errors import (
    AzureAssetError,
    AzureExtraMissingError,
    MlopsError,
    SettingsError,
)
from ml_service.pipelines import run_train_pipeline
from ml_service.pipelines.azureml import sdk, submit
from ml_service.pipelines.azureml.assets import Asset, CompiledAssets, write_assets
from ml_service.pipelines.azureml.compiler import compile_training, forwarded_settings
from ml_service.pipelines.azureml.endpoints import parse_traffic
from ml_service.pipelines.azureml.sdk import load_asset
from ml_service.pipelines.training import build_pipeline
from ml_service.settings import Env
from tests.azureml.conftest import FakeCredential, FakeMLClient
from tests.conftest import REPO_ROOT

WORKSPACE = {"SUBSCRIPTION_ID": "sub-1", "RESOURCE_GROUP": "mlops-RG", "WORKSPACE_NAME": "ws-1"}


@pytest.fixture
def azure_env(default_env: Env, monkeypatch: pytest.MonkeyPatch) -> Env:
    for name, value in WORKSPACE.items():
        monkeypatch.setenv(name, value)
    return Env(_env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> list[FakeMLClient]:
    """Every MLClient the code builds is a recording fake; credentials have a token."""
    made: list[FakeMLClient] = []

    def factory(credential, workspace):  # type: ignore[no-untyped-def]
        made.append(FakeMLClient(credential, workspace))
        return made[-1]

    monkeypatch.setattr(submit, "ml_client", factory)
    monkeypatch.setattr(submit, "default_credential", FakeCredential)
    return made


def test_submit_creates_the_cluster_then_the_pipeline_job(
    azure_env: Env, clients: list[FakeMLClient]
) -> None:
    submitted = submit.submit_training(
        azure_env,
        {"model_name": None, "dataset_version": "3", "data_file_path": None, "caller_run_id": "ci"},
        description="retrain on March data",
        wait=True,
    )
    assert submitted == submit.SubmittedJob("job-1", "studio://job-1", "NotStarted")
    (client,) = clients
    assert client.workspace == submit.Workspace("sub-1", "mlops-RG", "ws-1")
    assert client.credential.scopes == [submit.MANAGEMENT_SCOPE]
    assert [call for call, _ in client.calls] == [
        "compute.get",
        "compute.begin_create_or_update",
        "jobs.create_or_update",
        "jobs.stream",
    ]
    cluster = client.calls[1][1]
    assert isinstance(cluster, ml.entities.AmlCompute)
    assert (cluster.name, cluster.size, cluster.tier) == (
        "train-cluster",
        "STANDARD_DS2_V2",
        "low_priority",
    )
    job, experiment = client.calls[2][1]
    assert experiment == "mlopspython"
    assert isinstance(job, ml.entities.PipelineJob)
    assert job.description == "retrain on March data"
    rest = job._to_rest_object()  # what MLClient would send
    assert {name: value.value for name, value in rest.properties.inputs.items()} == {
        "model_name": "diabetes_regression_model",
        "dataset_version": "3",
        "data_file_path": "none",
        "caller_run_id": "ci",
    }
    assert list(job.jobs) == ["train", "evaluate", "register"]


def test_an_existing_cluster_is_left_alone(azure_env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    client = FakeMLClient(None, None, compute_exists=True)
    submit.submit_training(
        azure_env, {}, client_factory=lambda *_: client, credential_factory=FakeCredential
    )
    assert [call for call, _ in client.calls] == ["compute.get", "jobs.create_or_update"]


def test_run_train_pipeline_target_azureml_submits_and_writes_the_job_name(
    azure_env: Env, clients: list[FakeMLClient], tmp_path: Path
) -> None:
    id_file = tmp_path / "pipeline_id.txt"
    answer = run_train_pipeline.main(
        ["--target", "azureml", "--dataset_version", "2", "--output_pipeline_id_file", str(id_file)]
    )
    assert answer is None
    assert id_file.read_text() == "job-1"
    job, _ = clients[0].calls[-1][1]
    assert job.inputs["dataset_version"]._data == "2"


def test_skip_train_execution_validates_and_submits_nothing(
    azure_env: Env, clients: list[FakeMLClient], tmp_path: Path
) -> None:
    id_file = tmp_path / "pipeline_id.txt"
    run_train_pipeline.main(
        ["--target", "azureml", "--skip_train_execution", "--output_pipeline_id_file", str(id_file)]
    )
    assert clients == [] and not id_file.exists()


@pytest.mark.parametrize(
    "unset",
    [["SUBSCRIPTION_ID"], ["RESOURCE_GROUP", "WORKSPACE_NAME"], list(WORKSPACE)],
)
def test_missing_workspace_settings_are_named_before_any_work(
    azure_env: Env, clients: list[FakeMLClient], monkeypatch: pytest.MonkeyPatch, unset: list[str]
) -> None:
    for name in unset:
        monkeypatch.delenv(name)
    result = CliRunner().invoke(cli, ["pipeline", "submit", "--target", "azureml"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"error: {', '.join(unset)} not set: name the Azure ML workspace to submit to in the "
        "environment or .env (see docs/azure.md)"
    )
    assert clients == []


def test_no_credential_is_one_error_before_any_work(
    azure_env: Env, clients: list[FakeMLClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(submit, "default_credential", lambda: FakeCredential(available=False))
    result = CliRunner().invoke(cli, ["pipeline", "submit", "--target", "azureml"])
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error: no usable Azure credential (DefaultAzureCredential failed")
    assert "az login" in line and "AZURE_CLIENT_ID" in line
    assert clients == []


def test_isolate_steps_is_refused_for_azureml(azure_env: Env, clients: list[FakeMLClient]) -> None:
    with pytest.raises(MlopsError, match="--isolate_steps applies to --target local"):
        run_train_pipeline.main(["--target", "azureml", "--isolate_steps"])
    assert clients == []


def test_an_unknown_pipeline_parameter_is_refused(
    azure_env: Env, clients: list[FakeMLClient]
) -> None:
    with pytest.raises(MlopsError, match="has no parameter learning_rate"):
        submit.submit_training(azure_env, {"learning_rate": "0.1"})
    assert clients == []


def test_without_the_extra_the_command_says_to_install_it(tmp_path: Path) -> None:
    # `mlops` itself works without the azure packages; the commands that need them say so.
    script = (
        "import sys; sys.modules['azure.ai.ml'] = None\n"
        "from ml_service.cli import main\n"
        f"main(['pipeline', 'compile', '--target', 'azureml', '--out', {str(tmp_path / 'out')!r}])"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "error: this command needs the Azure ML SDK (azure.ai.ml is missing): install the azure "
        "extra: pip install -c requirements.lock -e '.[azure]'"
    )
    assert not (tmp_path / "out").exists()


def test_extra_missing_error_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "azure.identity", None)
    with pytest.raises(AzureExtraMissingError, match="azure extra"):
        sdk.azure_identity()


def test_compile_command_writes_validated_assets(default_env: Env, tmp_path: Path) -> None:
    out = tmp_path / "assets"
    result = CliRunner().invoke(
        cli, ["pipeline", "compile", "--target", "azureml", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert (out / "pipeline.yml").is_file() and (out / "components" / "register.yml").is_file()
    assert ml.load_job(out / "pipeline.yml").jobs["register"].component.display_name == "Register"


def test_a_refused_asset_leaves_the_folder_as_it_was(default_env: Env, tmp_path: Path) -> None:
    out = tmp_path / "assets"
    out.mkdir()
    (out / "pipeline.yml").write_text("kept\n")
    broken = CompiledAssets(
        command="pipeline compile --target azureml",
        entry="pipeline.yml",
        assets=(
            Asset("pipeline.yml", {"$schema": "x/pipelineJob.schema.json", "type": "pipeline"}),
            Asset(
                "components/train.yml",
                {"$schema": "x/commandComponent.schema.json", "type": "command", "command": 3},
            ),
        ),
    )
    with pytest.raises(AzureAssetError, match=r"is not a valid Azure ML asset|fails Azure ML"):
        write_assets(broken, out, validate=sdk.validate_assets)
    assert sorted(p.name for p in out.iterdir()) == ["pipeline.yml"]
    assert (out / "pipeline.yml").read_text() == "kept\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".assets-")]  # no scratch left


def test_load_asset_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "compute.yml"
    bad.write_text("name: c\ntype: amlcompute\nmin_instances: many\n")
    with pytest.raises(AzureAssetError, match=r"compute\.yml is not a valid Azure ML asset"):
        load_asset(bad, "load_compute")


def test_out_must_not_be_a_file(default_env: Env, tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    compiled = compile_training(build_pipeline(default_env), default_env, target)
    with pytest.raises(AzureAssetError, match="is a file: give a folder"):
        write_assets(compiled, target)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"AML_CLUSTER_MIN_NODES": "5"},
            "AML_CLUSTER_MIN_NODES (5) is above AML_CLUSTER_MAX_NODES",
        ),
        (
            {"MLOPS_REGISTRY_URI": "postgresql://mlops:s3cret@db.example:5432/mlops"},
            "MLOPS_REGISTRY_URI holds a password",
        ),
        ({"AML_ENV_TRAIN_CONDA_DEP_FILE": "missing.yml"}, "set AML_ENV_TRAIN_CONDA_DEP_FILE"),
    ],
)
def test_contradicting_settings_are_refused(
    default_env: Env,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    settings: dict[str, str],
    message: str,
) -> None:
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(
        cli, ["pipeline", "compile", "--target", "azureml", "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 1 and message in result.output, result.output
    assert result.output.startswith("error: ") and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_passwordless_registry_uri_is_forwarded(
    default_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_REGISTRY_URI", "postgresql://mlops@db.example:5432/mlops")
    assert forwarded_settings(Env(_env_file=None)) == {  # type: ignore[call-arg]
        "MLOPS_REGISTRY_URI": "postgresql://mlops@db.example:5432/mlops"
    }


def test_bad_settings_values_name_the_variable(default_env: Env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AML_CLUSTER_PRIORITY", "spot")
    monkeypatch.setenv("AML_ONLINE_ENDPOINT_NAME", "no_underscores")
    result = CliRunner().invoke(cli, ["pipeline", "compile", "--target", "azureml", "--out", "x"])
    assert result.exit_code == 1
    assert "AML_CLUSTER_PRIORITY" in result.output and "AML_ONLINE_ENDPOINT_NAME" in result.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("blue=90,green=20", "must add up to 100"),
        ("red=100", "SLOT blue or green"),
        ("blue=50,blue=50", "names blue twice"),
        ("blue=x", "SLOT blue or green"),
        ("", "must add up to 100"),
    ],
)
def test_bad_traffic_maps_are_refused(text: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        parse_traffic(text)


def test_the_azure_extra_is_declared_and_pinned() -> None:
    import tomllib

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    azure = project["optional-dependencies"]["azure"]
    lock = set((REPO_ROOT / "requirements.lock").read_text().split())
    assert {line.split("==")[0] for line in azure} >= {"azure-ai-ml", "azure-identity", "adlfs"}
    assert all(line in lock for line in azure), "pin the azure extra in requirements.lock too"


def test_submit_command_prints_the_job(azure_env: Env, clients: list[FakeMLClient]) -> None:
    result = CliRunner().invoke(
        cli, ["pipeline", "submit", "--target", "azureml", "--model-name", "other_model"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "submitted job-1 (NotStarted): studio://job-1"
    job, _ = clients[0].calls[-1][1]
    assert job._to_rest_object().properties.inputs["model_name"].value == "other_model"
