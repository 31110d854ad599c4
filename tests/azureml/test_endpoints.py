"""The endpoints compiled for Azure ML: the service's own container online, the batch script.

Every asset loads with the SDK's loader and passes its local validation; the
golden files hold; the container's routes and port are the scoring service's.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest
from azure.ai import ml
from click.testing import CliRunner

from ml_service.cli import cli
from ml_service.errors import AzureAssetError, SettingsError
from ml_service.pipelines.azureml import endpoints
from ml_service.pipelines.azureml.assets import CODE_ROOT, relative_path, write_assets
from ml_service.pipelines.azureml.endpoints import PackagedModel, compile_endpoints
from ml_service.pipelines.azureml.sdk import loader_name, validate_assets
from ml_service.settings import Env
from tests.azureml.test_compile import check_golden

DOCKERFILE = CODE_ROOT / "deploy" / "Dockerfile"
BATCH_SCRIPT = CODE_ROOT / "diabetes_regression" / "scoring" / "parallel_batchscore.py"


def make_package(
    folder: Path,
    name: str = "diabetes_regression_model",
    version: str = "3",
    deployment: str = "blue",
) -> Path:
    """A build context laid out as `mlops package` writes it (without the source tree)."""
    model = folder / "model" / f"{name}-{version}"
    model.mkdir(parents=True)
    (model / "MLmodel").write_text("flavors: {}\n")
    shutil.copy2(DOCKERFILE, folder / "Dockerfile")
    state = {
        "deployments": [
            {"name": deployment, "model_name": name, "model_version": version,
             "model_uri": f"model/{name}-{version}", "traffic": 100}
        ]
    }  # fmt: skip
    (folder / "endpoint.json").write_text(json.dumps(state))
    return folder


@pytest.fixture
def package(tmp_path: Path) -> Path:
    return make_package(tmp_path / "package")


@pytest.fixture
def green_package(tmp_path: Path) -> Path:
    return make_package(tmp_path / "green-package", deployment="green")


def normalized(rendered: dict[str, str], package: Path, out: Path) -> dict[str, str]:
    digest = PackagedModel(package).digest()
    return {
        path: text.replace(relative_path(package, out), "<package>").replace(
            f"version: {digest}", "version: <package digest>"
        )
        for path, text in rendered.items()
    }


def test_endpoint_assets_match_the_golden_files(
    default_env: Env, green_package: Path, tmp_path: Path
) -> None:
    out = tmp_path / "endpoints"
    compiled = compile_endpoints(
        default_env, green_package, out, slot="green", traffic={"blue": 0, "green": 100}
    )
    check_golden("endpoints", normalized(compiled.rendered(), green_package, out), out)
    # Same package and settings, same bytes.
    assert (
        compile_endpoints(
            default_env, green_package, out, slot="green", traffic={"blue": 0, "green": 100}
        ).rendered()
        == compiled.rendered()
    )


def test_every_endpoint_asset_loads_and_validates_with_the_sdk(
    default_env: Env, package: Path, tmp_path: Path
) -> None:
    out = tmp_path / "endpoints"
    compiled = compile_endpoints(default_env, package, out, slot="blue", model_version="3")
    write_assets(compiled, out, validate=validate_assets)
    entities = validate_assets(out, compiled)

    assert {a.path: loader_name(a.document) for a in compiled.assets} == {
        "online-endpoint.yml": "load_online_endpoint",
        "online-deployment-blue.yml": "load_online_deployment",
        "serving-environment.yml": "load_environment",
        "batch-endpoint.yml": "load_batch_endpoint",
        "batch-deployment-blue.yml": "load_batch_deployment",
        "environment.yml": "load_environment",
    }
    endpoint = entities["online-endpoint.yml"]
    assert (endpoint.name, endpoint.auth_mode) == ("diabetes-online", "key")
    assert not endpoint.traffic  # unchanged unless --traffic is given

    online = entities["online-deployment-blue.yml"]
    assert isinstance(online, ml.entities.ManagedOnlineDeployment)
    assert (online.name, online.endpoint_name) == ("blue", "diabetes-online")
    assert (online.instance_type, online.instance_count) == ("Standard_DS3_v2", 1)
    assert online.model is None and online.code_configuration is None  # the image serves it
    assert online.tags["mlops.model_version"] == "3"
    container = online.environment
    assert (Path(container.base_path) / container.build.path).resolve() == package.resolve()
    assert container.build.dockerfile_path == "Dockerfile"
    routes = container.inference_config
    assert (routes.liveness_route.path, routes.readiness_route.path) == ("/health", "/ready")
    assert routes.scoring_route.path == "/score"
    assert {
        r.port for r in (routes.liveness_route, routes.readiness_route, routes.scoring_route)
    } == {8000}

    batch_endpoint = entities["batch-endpoint.yml"]
    assert (batch_endpoint.name, batch_endpoint.auth_mode) == ("diabetes-batch", "aad_token")
    batch = entities["batch-deployment-blue.yml"]
    assert isinstance(batch, ml.entities.BatchDeployment)
    assert (batch.name, batch.endpoint_name) == ("blue", "diabetes-batch")
    model_path = Path(batch.base_path) / batch.model.path
    assert model_path.resolve() == (package / "model" / "diabetes_regression_model-3").resolve()
    code = Path(batch.base_path) / batch.code_configuration.code
    assert (code / batch.code_configuration.scoring_script).resolve() == BATCH_SCRIPT
    assert batch.compute == "train-cluster"
    assert (batch.mini_batch_size, batch.error_threshold, batch.resources.instance_count) == (
        5,
        10,
        4,
    )
    assert (batch.output_action, batch.output_file_name) == ("append_row", "parallel_run_step.txt")
    assert batch.environment_variables == {"MODEL_NAME": "diabetes_regression_model"}
    assert batch.environment.conda_file == entities["environment.yml"].conda_file


def test_the_container_serves_on_the_service_routes_and_port(package: Path) -> None:
    # The routes the compiled deployment probes and calls exist in the scoring service
    # with the methods Azure ML uses, and the image runs that service on its EXPOSEd port.
    from ml_service.serving.routes.health import router as health
    from ml_service.serving.routes.scoring import scoring_router

    served = {
        (route.path, method)
        for router in (health, scoring_router(("A", "B"), 10, None))
        for route in router.routes
        for method in route.methods  # type: ignore[attr-defined]
    }
    assert {
        (endpoints.LIVENESS_ROUTE, "GET"),
        (endpoints.READINESS_ROUTE, "GET"),
        (endpoints.SCORING_ROUTE, "POST"),
    } <= served
    dockerfile = DOCKERFILE.read_text()
    (cmd,) = re.findall(r"^CMD (\[.*\])$", dockerfile, re.MULTILINE)
    command = json.loads(cmd)
    assert command[:2] == ["mlops", "serve"]
    assert command[command.index("--port") + 1] == str(PackagedModel(package).port)


def test_traffic_moves_the_online_split_and_the_batch_default(
    default_env: Env, green_package: Path, tmp_path: Path
) -> None:
    package = green_package
    documents = {
        a.path: a.document
        for a in compile_endpoints(
            default_env, package, tmp_path / "a", slot="green", traffic={"blue": 90, "green": 10}
        ).assets
    }
    assert documents["online-endpoint.yml"]["traffic"] == {"blue": 90, "green": 10}
    assert "defaults" not in documents["batch-endpoint.yml"]  # green is not serving yet
    everything = compile_endpoints(
        default_env, package, tmp_path / "b", slot="green", traffic={"green": 100}
    )
    batch = everything.assets[3].document
    assert batch["defaults"] == {"deployment_name": "green"}


def test_settings_shape_the_deployments(
    default_env: Env, package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "AML_ONLINE_INSTANCE_TYPE": "Standard_F4s_v2",
        "AML_ONLINE_INSTANCE_COUNT": "3",
        "AML_ONLINE_ENDPOINT_NAME": "dia-online",
        "AML_BATCH_ENDPOINT_NAME": "dia-batch",
        "AML_COMPUTE_CLUSTER_NAME": "cpu-cluster",
        "AML_CLUSTER_MAX_NODES": "2",
        "AML_BATCH_MINI_BATCH_SIZE": "20",
        "AML_BATCH_ERROR_THRESHOLD": "-1",
        "MLOPS_DATASTORE_URI": "abfs://data@account.dfs.core.windows.net/mlops",
    }.items():
        monkeypatch.setenv(name, value)
    env = Env(_env_file=None)  # type: ignore[call-arg]
    out = tmp_path / "endpoints"
    compiled = compile_endpoints(env, package, out)
    write_assets(compiled, out, validate=validate_assets)
    online = ml.load_online_deployment(out / "online-deployment-blue.yml")
    assert (online.endpoint_name, online.instance_type, online.instance_count) == (
        "dia-online",
        "Standard_F4s_v2",
        3,
    )
    batch = ml.load_batch_deployment(out / "batch-deployment-blue.yml")
    assert (batch.endpoint_name, batch.compute, batch.resources.instance_count) == (
        "dia-batch",
        "cpu-cluster",
        2,
    )
    assert (batch.mini_batch_size, batch.error_threshold) == (20, -1)
    assert batch.environment_variables["MLOPS_DATASTORE_URI"].startswith("abfs://")


def test_the_serving_environment_version_follows_the_package(
    default_env: Env, package: Path, tmp_path: Path
) -> None:
    before = PackagedModel(package).digest()
    (package / "model" / "diabetes_regression_model-3" / "MLmodel").write_text("flavors: {x: 1}\n")
    assert PackagedModel(package).digest() != before


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ("no-state", AzureAssetError, r"is not an `mlops package` build context"),
        ("two-models", AzureAssetError, r"does not name the one model version"),
        ("no-model-files", AzureAssetError, r"which is missing"),
        ("no-expose", AzureAssetError, r"must EXPOSE exactly one port"),
        ("other-model", SettingsError, r"serves model 'other', not MODEL_NAME"),
        ("other-version", SettingsError, r"--model-version 4 disagrees with --package"),
        ("bad-version", SettingsError, r"'latest' is not a registered version number"),
        ("bytes-mini-batch", SettingsError, r"give a number of files per mini-batch"),
        ("traffic-without-slot", SettingsError, r"add green=0"),
        (
            "other-deployment",
            SettingsError,
            r"as deployment 'blue', not 'green'.*--deployment green",
        ),
        ("no-batch-script", AzureAssetError, r"BATCHSCORE_SCRIPT_PATH"),
    ],
)
def test_each_endpoint_mistake_is_one_clear_error(
    default_env: Env,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    change: str,
    error: type[Exception],
    message: str,
) -> None:
    package = make_package(
        tmp_path / "package",
        name="other" if change == "other-model" else "diabetes_regression_model",
    )
    kwargs: dict = {}
    if change == "no-state":
        (package / "endpoint.json").unlink()
    elif change == "two-models":
        state = json.loads((package / "endpoint.json").read_text())
        state["deployments"] *= 2
        (package / "endpoint.json").write_text(json.dumps(state))
    elif change == "no-model-files":
        shutil.rmtree(package / "model")
    elif change == "no-expose":
        dockerfile = package / "Dockerfile"
        dockerfile.write_text(re.sub(r"(?m)^EXPOSE .*$", "", dockerfile.read_text()))
    elif change == "other-version":
        kwargs["model_version"] = "4"
    elif change == "bad-version":
        kwargs["model_version"] = "latest"
    elif change == "bytes-mini-batch":
        monkeypatch.setenv("AML_BATCH_MINI_BATCH_SIZE", "10MB")
    elif change == "traffic-without-slot":
        kwargs.update(slot="green", traffic={"blue": 100})
    elif change == "other-deployment":
        kwargs.update(slot="green")
    elif change == "no-batch-script":
        monkeypatch.setenv("BATCHSCORE_SCRIPT_PATH", "scoring/missing.py")
    env = Env(_env_file=None)  # type: ignore[call-arg]
    with pytest.raises(error, match=message):
        compile_endpoints(env, package, tmp_path / "out", **kwargs)


def test_the_command_writes_nothing_on_a_mistake(default_env: Env, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["endpoint", "compile", "--target", "azureml", "--package", str(tmp_path / "none"),
         "--out", str(tmp_path / "out")],
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.output.startswith(f"error: --package {tmp_path / 'none'} is not an `mlops pack")
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_package_then_compile_the_registered_version(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The commands in docs/azure.md's order: package a registered version, compile its endpoints.
    from tests.integration.serving.diabetes_model import register_diabetes_model

    registered = register_diabetes_model(workspace)
    packaged = CliRunner().invoke(
        cli,
        ["package", "--model", f"models:/{registered.name}/1", "--out", str(tmp_path / "pkg"),
         "--deployment", "green"],
    )  # fmt: skip
    assert packaged.exit_code == 0, packaged.output
    out = tmp_path / "endpoints"
    result = CliRunner().invoke(
        cli,
        ["endpoint", "compile", "--target", "azureml", "--package", str(tmp_path / "pkg"),
         "--out", str(out), "--deployment", "green", "--traffic", "blue=90,green=10"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "batch-deployment-green.yml",
        "batch-endpoint.yml",
        "environment.yml",
        "online-deployment-green.yml",
        "online-endpoint.yml",
        "serving-environment.yml",
    ]
    assert ml.load_online_endpoint(out / "online-endpoint.yml").traffic == {"blue": 90, "green": 10}
    online = ml.load_online_deployment(out / "online-deployment-green.yml")
    assert online.tags["mlops.model_version"] == "1"
    batch = ml.load_batch_deployment(out / "batch-deployment-green.yml")
    assert (Path(batch.base_path) / batch.model.path / "MLmodel").is_file()

    # The image's command on the package, called on the routes the deployment declares,
    # as Azure ML would call them (a free port here; the compiled one is the image's).
    routes = online.environment.inference_config
    served = serve_packaged(tmp_path / "pkg")
    with served as url:
        assert urlopen(f"{url}{routes.liveness_route.path}", timeout=10).status == 200
        ready = json.load(urlopen(f"{url}{routes.readiness_route.path}", timeout=10))
        assert ready["status"] == "ready"
        assert [(d["name"], d["model_version"]) for d in ready["deployments"]] == [("green", "1")]
        status, answer = post_score(f"{url}{routes.scoring_route.path}", "green")
        assert status == 200 and len(answer["result"]) == 2
        # A request pinned to another deployment name finds nothing in this container.
        assert post_score(f"{url}{routes.scoring_route.path}", "blue")[0] == 404


@contextlib.contextmanager
def serve_packaged(package: Path):
    """Run the image's command (deploy/Dockerfile's CMD) on a package, on a free port."""
    from ml_service.deploy.process import serve_command
    from tests.conftest import free_port

    port = free_port()
    command = serve_command("production", "127.0.0.1", port)
    service = subprocess.Popen(
        [str(Path(sys.executable).with_name("mlops")), *command[1:]],
        env={
            **os.environ,
            "MLOPS_ENDPOINT_STATE_FILE": str(package / "endpoint.json"),
            "SCORING_COLLECT_DATA": "false",
        },
        cwd=package,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            assert service.poll() is None, service.stderr.read() if service.stderr else ""
            try:
                urlopen(f"{url}/ready", timeout=5)
                break
            except OSError:
                time.sleep(0.2)
        yield url
    finally:
        service.terminate()
        service.wait(60)


def post_score(url: str, deployment: str) -> tuple[int, dict]:
    body = json.dumps(
        {"data": [[0.03, 0.05, 0.06, 0.02, -0.04, -0.03, -0.04, 0.0, 0.02, -0.02]] * 2}
    )
    request = Request(
        url,
        data=body.encode(),
        headers={"Content-Type": "application/json", "azureml-model-deployment": deployment},
    )
    try:
        with urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except HTTPError as err:
        return err.code, json.load(err)
