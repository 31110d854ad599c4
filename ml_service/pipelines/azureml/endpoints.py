"""A registered model version as Azure ML endpoints: managed online (blue/green) and batch.

The online deployment runs the model package's scoring script (`init()`/`run()`,
SCORE_SCRIPT) in the same environment as the pipeline steps, on the instance
type and count the settings give. Blue/green: a new model version goes to the
slot not serving, and the endpoint's traffic map moves requests between the
two. Pure, like the pipeline compiler.
"""

from __future__ import annotations

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
from ml_service.pipelines.azureml.compiler import ENVIRONMENT_FILE, environment_document
from ml_service.settings import Env

DEPLOYMENT_SLOTS = ("blue", "green")
ONLINE_ENDPOINT_FILE = "online-endpoint.yml"
BATCH_ENDPOINT_FILE = "batch-endpoint.yml"


def deployment_file(slot: str) -> str:
    """File name of a slot's online deployment."""
    return f"online-deployment-{slot}.yml"


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


def compile_endpoints(
    env: Env,
    model_version: str,
    out_dir: Path,
    slot: str = "blue",
    traffic: dict[str, int] | None = None,
    code_root: Path = CODE_ROOT,
) -> CompiledAssets:
    """The online endpoint, its `slot` deployment of MODEL_NAME:model_version, the batch endpoint.

    Args:
        env: The settings: endpoint names, instance type and count, environment, model name.
        model_version: The registered model version to deploy (a number).
        out_dir: Where the assets will be written; relative paths in them start there.
        slot: `blue` or `green`: the deployment this model version goes to.
        traffic: The endpoint's traffic map after the deployment exists; None leaves it as is.
        code_root: The folder uploaded as the scoring code.

    Raises:
        SettingsError: a bad model version, slot or traffic map.
        AzureAssetError: the scoring script or conda file does not exist.
    """
    if not model_version.isdigit() or int(model_version) < 1:
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
    scoring_script = Path(env.sources_dir_train) / env.score_script
    if not (code_root / scoring_script).is_file():
        raise AzureAssetError(
            f"scoring script {code_root / scoring_script} not found: set SCORE_SCRIPT to a file "
            "in SOURCES_DIR_TRAIN"
        )
    model = f"azureml:{env.model_name}:{int(model_version)}"
    tags = {"mlops.model_name": env.model_name, "mlops.model_version": str(int(model_version))}
    online: dict[str, Any] = {
        "$schema": schema("managedOnlineEndpoint"),
        "name": env.aml_online_endpoint_name,
        "description": f"Real-time scoring of {env.model_name} (blue/green deployments).",
        "auth_mode": "key",
    }
    if traffic is not None:
        online["traffic"] = dict(traffic)
    deployment = {
        "$schema": schema("managedOnlineDeployment"),
        "name": slot,
        "endpoint_name": env.aml_online_endpoint_name,
        "description": f"{env.model_name} version {int(model_version)}.",
        "tags": tags,
        "model": model,
        "code_configuration": {
            "code": relative_path(code_root, out_dir),
            "scoring_script": scoring_script.as_posix(),
        },
        "environment": f"file:./{ENVIRONMENT_FILE}",
        "instance_type": env.aml_online_instance_type,
        "instance_count": env.aml_online_instance_count,
    }
    batch = {
        "$schema": schema("batchEndpoint"),
        "name": env.aml_batch_endpoint_name,
        "description": f"Batch scoring of {env.model_name}.",
        "auth_mode": "aad_token",
    }
    return CompiledAssets(
        command=f"endpoint compile --target azureml --model-version {int(model_version)}",
        entry=ONLINE_ENDPOINT_FILE,
        assets=(
            Asset(ONLINE_ENDPOINT_FILE, online),
            Asset(deployment_file(slot), deployment),
            Asset(BATCH_ENDPOINT_FILE, batch),
            Asset(ENVIRONMENT_FILE, environment_document(env, out_dir, code_root)),
        ),
    )
