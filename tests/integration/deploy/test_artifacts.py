"""What ships to a cluster: the Dockerfile (linted), the build context, the Kubernetes manifests."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ml_service.cli import cli
from ml_service.deploy.process import serve_command
from ml_service.deploy.state import DeploymentState
from ml_service.registry.database import registry_engine
from ml_service.settings import load_env
from tests.conftest import REPO_ROOT, free_port
from tests.integration.deploy.support import MLOPS, MODEL_NAME, fresh_workspace, get_json, score

DOCKERFILE = REPO_ROOT / "deploy" / "Dockerfile"
KUBERNETES_VERSION = "1.30"


def _cmd(dockerfile: str) -> list[str]:
    lines = [line for line in dockerfile.splitlines() if line.startswith("CMD ")]
    assert len(lines) == 1
    return json.loads(lines[0][len("CMD ") :])


def test_dockerfile_passes_hadolint():
    hadolint = str(Path(sys.executable).with_name("hadolint"))
    done = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck_and_the_local_command():
    text = DOCKERFILE.read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) == 2
    assert re.search(r"^USER 10001$", text, re.M)
    assert re.search(r"^HEALTHCHECK .*", text, re.M) and "/health" in text
    # The very command `mlops deploy` starts an endpoint with on this machine.
    assert _cmd(text) == serve_command("production", "0.0.0.0", 8000)


@pytest.fixture
def env_workspace(trained_versions, tmp_path, monkeypatch):
    for name in ("MLOPS_WORKSPACE", "MLFLOW_TRACKING_URI", "MLOPS_REGISTRY_URI"):
        monkeypatch.delenv(name, raising=False)
    folder = fresh_workspace(trained_versions, tmp_path / "ws")
    monkeypatch.setenv("MLOPS_WORKSPACE", str(folder))
    monkeypatch.chdir(tmp_path)
    return folder


def test_package_writes_a_context_whose_command_serves_the_pinned_version(env_workspace, tmp_path):
    out = tmp_path / "context"
    result = CliRunner().invoke(
        cli, ["package", "--model", f"models:/{MODEL_NAME}@champion", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert (out / "Dockerfile").read_text() == DOCKERFILE.read_text()
    for name in ("pyproject.toml", "requirements.lock", "ml_service/cli/serve.py"):
        assert (out / name).is_file()
    assert not list(out.rglob("__pycache__"))
    state = json.loads((out / "endpoint.json").read_text())
    # Pinned by version: the alias resolved to 1 when packaged.
    assert state["deployments"] == [
        {"name": "blue", "model_name": MODEL_NAME, "model_version": "1",
         "model_uri": f"model/{MODEL_NAME}-1", "traffic": 100}
    ]  # fmt: skip
    assert (out / "model" / f"{MODEL_NAME}-1" / "MLmodel").is_file()

    # The image's command, run here on the context: it serves the packaged model.
    port = free_port()
    command = serve_command("production", "127.0.0.1", port)
    service = subprocess.Popen(
        [MLOPS, *command[1:]],
        env={
            **os.environ,
            "MLOPS_ENDPOINT_STATE_FILE": str(out / "endpoint.json"),
            "SCORING_COLLECT_DATA": "false",
            "PYTHONPATH": str(REPO_ROOT),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        while True:
            assert service.poll() is None, service.stderr.read() if service.stderr else ""
            try:
                if get_json(f"{url}/ready")["status"] == "ready":
                    break
            except OSError:
                time.sleep(0.2)
        assert score(url) == (200, "blue", "1")
    finally:
        service.terminate()
        service.wait(60)


def test_package_refuses_a_folder_in_use(env_workspace, tmp_path):
    out = tmp_path / "used"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = CliRunner().invoke(
        cli, ["package", "--model", f"models:/{MODEL_NAME}/2", "--out", str(out)]
    )
    assert result.exit_code == 1
    assert "error: --out" in result.output and "not empty" in result.output
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_render_k8s_manifests_validate_against_the_kubernetes_schemas(env_workspace, tmp_path):
    import kubernetes_validate

    state = DeploymentState(registry_engine(load_env()))
    state.ensure_endpoint("production", 8000, None)
    state.add_deployment("production", "blue", MODEL_NAME, "1", f"models:/{MODEL_NAME}/1")
    state.add_deployment("production", "green", MODEL_NAME, "2", f"models:/{MODEL_NAME}/2")
    state.set_traffic("production", {"blue": 90, "green": 10})

    out = tmp_path / "k8s"
    result = CliRunner().invoke(
        cli, ["deploy", "render", "--env", "production", "--target", "k8s", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    files = {p.name: yaml.safe_load(p.read_text()) for p in out.iterdir()}
    assert sorted(files) == [
        "deployment-blue.yaml", "deployment-green.yaml", "hpa-blue.yaml", "hpa-green.yaml",
        "ingress-canary-green.yaml", "ingress.yaml", "service-blue.yaml", "service-green.yaml",
        "service.yaml",
    ]  # fmt: skip
    for name, manifest in files.items():
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as err:
            pytest.fail(f"{name}: {err.message}")

    green = files["deployment-green.yaml"]["spec"]["template"]["spec"]
    container = green["containers"][0]
    assert container["image"] == "mlops-serving:diabetes-regression-model-2"
    assert [*["mlops"], *container["args"]] == serve_command("production", "0.0.0.0", 8000)
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert green["volumes"][0]["secret"]["secretName"] == "production-scoring-key"
    hpa = files["hpa-green.yaml"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (1, 3)
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    canary = files["ingress-canary-green.yaml"]["metadata"]["annotations"]
    assert canary["nginx.ingress.kubernetes.io/canary-weight"] == "10"
    main = files["ingress.yaml"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert main["service"]["name"] == "production-blue"


def test_render_refuses_an_endpoint_without_deployments(env_workspace, tmp_path):
    result = CliRunner().invoke(
        cli, ["deploy", "render", "--env", "staging", "--out", str(tmp_path / "k")]
    )
    assert result.exit_code == 1
    assert "error: staging has no deployment to render" in result.output
