"""A packaged model version as Azure ML endpoints: managed online (blue/green) and batch.

The online deployment is a custom container built from the `mlops package`
build context (deploy/Dockerfile): the scoring service itself, `mlops serve`,
with the model version baked in, probed on its own liveness and readiness
routes and called on its own scoring route. So the cloud endpoint runs the
very serving code `mlops serve` and `mlops deploy` run locally (see
docs/azure.md for why not Azure ML's scoring-script hosting).

The batch deployment runs the model package's `init()`/`run(mini_batch)`
script (BATCHSCORE_SCRIPT_PATH, the parallel job's) over the same model files
the package holds, in the pipeline steps' environment, on the compute cluster.

Blue/green: a new model version goes to the slot not serving, and the online
endpoint's traffic map moves requests between the two; the batch endpoint's
default deployment follows the slot given all the traffic. Pure, like the
pipeline compiler: reads the package's files, imports nothing from Azure.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from ml_service.errors import AzureAssetError, SettingsError
from ml_service.pipelines.azureml.assets import (
    CODE_ROOT,
    Asset,
    CompiledAssets,
    relative_path,
    schema,
)
from ml_service.pipelines.azureml.compiler import (
    ENVIRONMENT_FILE,
    environment_document,
    forwarded_settings,
)
from ml_service.settings import Env

DEPLOYMENT_SLOTS = ("blue", "green")
ONLINE_ENDPOINT_FILE = "online-endpoint.yml"
BATCH_ENDPOINT_FILE = "batch-endpoint.yml"
SERVING_ENVIRONMENT_FILE = "serving-environment.yml"
# What `mlops package` writes (ml_service.deploy.package): the Dockerfile and the state it serves.
PACKAGE_DOCKERFILE = "Dockerfile"
PACKAGE_STATE = "endpoint.json"
# The scoring service's routes (ml_service.serving.routes): a test checks they exist.
LIVENESS_ROUTE = "/health"
READINESS_ROUTE = "/ready"
SCORING_ROUTE = "/score"
# The append_row file of a batch deployment's job, as the pipeline's parallel job names it.
BATCH_OUTPUT_FILE = "parallel_run_step.txt"
_EXPOSE = re.compile(r"^\s*EXPOSE\s+(\d+)\s*$", re.MULTILINE)


def deployment_file(slot: str) -> str:
    """File name of a slot's online deployment."""
    return f"online-deployment-{slot}.yml"


def batch_deployment_file(slot: str) -> str:
    """File name of a slot's batch deployment."""
    return f"batch-deployment-{slot}.yml"


def parse_traffic(text: str) -> dict[str, int]:
    """`blue=90,green=10` as `{"blue": 90, "green": 10}`.

    Raises:
        SettingsError: an unknown slot, a share outside 0–100, or shares not adding up to 100.
    """
    traffic: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        slot, _, share = item.partition("=")
        slot = slot.strip()
        if slot not in DEPLOYMENT_SLOTS or not share.strip().isdigit():
            raise SettingsError(
                f"--traffic {text!r}: expected SLOT=PERCENT items with SLOT blue or green, "
                "e.g. blue=90,green=10"
            )
        if slot in traffic:
            raise SettingsError(f"--traffic {text!r} names {slot} twice")
        traffic[slot] = int(share)
    if not traffic or sum(traffic.values()) != 100 or max(traffic.values()) > 100:
        raise SettingsError(f"--traffic {text!r}: the percentages must add up to 100")
    return traffic


class PackagedModel:
    """What an `mlops package` build context serves: model version, deployment name, port."""

    def __init__(self, folder: Path) -> None:
        """Read the context in `folder`.

        Raises:
            AzureAssetError: `folder` is not an `mlops package` build context.
        """
        hint = "run `mlops package --model models:/NAME/VERSION --out DIR` and pass --package DIR"
        state_file = folder / PACKAGE_STATE
        dockerfile = folder / PACKAGE_DOCKERFILE
        if not state_file.is_file() or not dockerfile.is_file():
            raise AzureAssetError(
                f"--package {folder} is not an `mlops package` build context (no "
                f"{PACKAGE_STATE} or {PACKAGE_DOCKERFILE}): {hint}"
            )
        try:
            deployments = json.loads(state_file.read_text(encoding="utf-8"))["deployments"]
            (served,) = deployments
            self.deployment = str(served["name"])
            self.model_name = str(served["model_name"])
            self.model_version = str(served["model_version"])
            self.model_dir = folder / str(served["model_uri"])
        except (ValueError, KeyError, TypeError) as err:
            raise AzureAssetError(
                f"{state_file} does not name the one model version the package serves: {hint}"
            ) from err
        if not self.model_dir.is_dir():
            raise AzureAssetError(f"{state_file} names {self.model_dir}, which is missing: {hint}")
        ports = _EXPOSE.findall(dockerfile.read_text(encoding="utf-8"))
        if len(ports) != 1:
            raise AzureAssetError(
                f"{dockerfile} must EXPOSE exactly one port, the service's (found {len(ports)})"
            )
        self.port = int(ports[0])
        self.folder = folder

    def digest(self) -> str:
        """A digest of every file in the context: the serving environment's version."""
        sha = hashlib.sha256()
        for path in sorted(p for p in self.folder.rglob("*") if p.is_file()):
            sha.update(path.relative_to(self.folder).as_posix().encode() + b"\0")
            sha.update(hashlib.sha256(path.read_bytes()).digest())
        return sha.hexdigest()[:12]


def compile_endpoints(
    env: Env,
    package_dir: Path,
    out_dir: Path,
    slot: str = "blue",
    traffic: dict[str, int] | None = None,
    model_version: str | None = None,
    code_root: Path = CODE_ROOT,
) -> CompiledAssets:
    """The online and batch endpoints and the `slot` deployments of the packaged model version.

    Args:
        env: The settings: endpoint names, instance type and count, cluster, model name.
        package_dir: An `mlops package` build context: the image and the model files.
        out_dir: Where the assets will be written; relative paths in them start there.
        slot: `blue` or `green`: the deployments this model version goes to.
        traffic: The online endpoint's traffic map after the deployment exists (and the
            batch endpoint's default: the slot given 100); None leaves both as they are.
        model_version: The version the package must hold (None: whatever it holds).
        code_root: The folder uploaded as the batch scoring code.

    Raises:
        SettingsError: a bad model version, slot, traffic map or mini-batch size, or a
            package of another model.
        AzureAssetError: the package, the batch scoring script or the conda file is missing.
    """
    if model_version is not None and (not model_version.isdigit() or int(model_version) < 1):
        raise SettingsError(
            f"model version {model_version!r} is not a registered version number "
            "(see `mlops model list`)"
        )
    if slot not in DEPLOYMENT_SLOTS:
        raise SettingsError(f"deployment {slot!r} is not one of {', '.join(DEPLOYMENT_SLOTS)}")
    if traffic is not None and slot not in traffic:
        # A new deployment may get 0 % first and be smoke-tested through its own name.
        raise SettingsError(
            f"--traffic names no share for {slot!r}, the deployment being compiled: "
            f"add {slot}=0 to create it without traffic"
        )
    if not env.aml_batch_mini_batch_size.isdigit():
        raise SettingsError(
            f"AML_BATCH_MINI_BATCH_SIZE {env.aml_batch_mini_batch_size!r}: a batch deployment "
            "splits its input by files, so give a number of files per mini-batch (e.g. 5)"
        )
    packaged = PackagedModel(package_dir)
    if packaged.model_name != env.model_name:
        raise SettingsError(
            f"--package {package_dir} serves model {packaged.model_name!r}, not MODEL_NAME "
            f"{env.model_name!r}: package MODEL_NAME's version, or set MODEL_NAME"
        )
    if packaged.deployment != slot:
        # Azure ML may pass the deployment a request pins (azureml-model-deployment) on
        # to the container, whose service answers only for the deployment it serves.
        raise SettingsError(
            f"--package {package_dir} serves its model as deployment {packaged.deployment!r}, "
            f"not {slot!r}: package it with `mlops package --deployment {slot}`"
        )
    if model_version is not None and int(model_version) != int(packaged.model_version):
        raise SettingsError(
            f"--model-version {model_version} disagrees with --package {package_dir}, which "
            f"holds version {packaged.model_version}"
        )
    script = code_root / env.sources_dir_train / env.batchscore_script_path
    if not script.is_file():
        raise AzureAssetError(
            f"batch scoring script {script} not found: set BATCHSCORE_SCRIPT_PATH to a file in "
            "SOURCES_DIR_TRAIN"
        )
    version = packaged.model_version
    description = f"{env.model_name} version {version}."
    tags = {"mlops.model_name": env.model_name, "mlops.model_version": version}
    online: dict[str, Any] = {
        "$schema": schema("managedOnlineEndpoint"),
        "name": env.aml_online_endpoint_name,
        "description": f"Real-time scoring of {env.model_name} (blue/green deployments).",
        "auth_mode": "key",
    }
    if traffic is not None:
        online["traffic"] = dict(traffic)
    route = {"port": packaged.port}
    serving_environment = {
        "$schema": schema("environment"),
        "name": f"{env.aml_online_endpoint_name}-serving",
        "version": packaged.digest(),
        "description": f"The scoring service (`mlops serve`) serving {description}",
        "build": {
            "path": relative_path(package_dir, out_dir),
            "dockerfile_path": PACKAGE_DOCKERFILE,
        },
        "inference_config": {
            "liveness_route": {**route, "path": LIVENESS_ROUTE},
            "readiness_route": {**route, "path": READINESS_ROUTE},
            "scoring_route": {**route, "path": SCORING_ROUTE},
        },
    }
    deployment = {
        "$schema": schema("managedOnlineDeployment"),
        "name": slot,
        "endpoint_name": env.aml_online_endpoint_name,
        "description": description,
        "tags": tags,
        # The model is in the image (the package), so the deployment names none.
        "environment": f"file:./{SERVING_ENVIRONMENT_FILE}",
        "instance_type": env.aml_online_instance_type,
        "instance_count": env.aml_online_instance_count,
    }
    batch: dict[str, Any] = {
        "$schema": schema("batchEndpoint"),
        "name": env.aml_batch_endpoint_name,
        "description": f"Batch scoring of {env.model_name}.",
        "auth_mode": "aad_token",
    }
    if traffic is not None and traffic[slot] == 100:
        batch["defaults"] = {"deployment_name": slot}
    batch_deployment = {
        "$schema": schema("batchDeployment"),
        "name": slot,
        "endpoint_name": env.aml_batch_endpoint_name,
        "description": description,
        "tags": tags,
        "model": {"path": relative_path(packaged.model_dir, out_dir), "type": "custom_model"},
        "code_configuration": {
            "code": relative_path(code_root, out_dir),
            "scoring_script": script.relative_to(code_root).as_posix(),
        },
        "environment": f"file:./{ENVIRONMENT_FILE}",
        "environment_variables": {"MODEL_NAME": env.model_name, **forwarded_settings(env)},
        "compute": f"azureml:{env.aml_compute_cluster_name}",
        "resources": {"instance_count": env.aml_cluster_max_nodes},
        "max_concurrency_per_instance": 1,
        "mini_batch_size": int(env.aml_batch_mini_batch_size),
        "output_action": "append_row",
        "output_file_name": BATCH_OUTPUT_FILE,
        "error_threshold": env.aml_batch_error_threshold,
        "logging_level": "info",
    }
    return CompiledAssets(
        command=f"endpoint compile --target azureml --model-version {version}",
        entry=ONLINE_ENDPOINT_FILE,
        assets=(
            Asset(ONLINE_ENDPOINT_FILE, online),
            Asset(deployment_file(slot), deployment),
            Asset(SERVING_ENVIRONMENT_FILE, serving_environment),
            Asset(BATCH_ENDPOINT_FILE, batch),
            Asset(batch_deployment_file(slot), batch_deployment),
            Asset(ENVIRONMENT_FILE, environment_document(env, out_dir, code_root)),
        ),
    )
