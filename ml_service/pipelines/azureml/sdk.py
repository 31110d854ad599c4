"""The azure-ai-ml SDK, imported only when a command needs it, and its offline validation.

Every compiled YAML is loaded with the SDK's own loader for its type and put
through the SDK's local validation, the checks `az ml ... create` runs before
it calls Azure.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from types import ModuleType
from typing import Any

from ml_service.errors import AzureAssetError, AzureExtraMissingError
from ml_service.pipelines.azureml.assets import CompiledAssets

log = logging.getLogger(__name__)

INSTALL_HINT = "install the azure extra: pip install -c requirements.lock -e '.[azure]'"


def azure_ml() -> ModuleType:
    """The `azure.ai.ml` module.

    Raises:
        AzureExtraMissingError: the azure extra is not installed.
    """
    module = _import("azure.ai.ml")
    # The SDK gives its logger its own stderr handler at import and warns on every
    # load about its experimental classes and anonymous assets: noise for our users.
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        logging.getLogger("azure.ai.ml").setLevel(logging.ERROR)
    return module


def _import(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise AzureExtraMissingError(
            f"this command needs the Azure ML SDK ({err.name or module} is missing): {INSTALL_HINT}"
        ) from err


def azure_identity() -> ModuleType:
    """The `azure.identity` module (the extra pins it)."""
    return _import("azure.identity")


# The SDK loader of each asset kind, by the `$schema` the compiler wrote.
_LOADERS = {
    "pipelineJob": "load_job",
    "commandComponent": "load_component",
    "parallelComponent": "load_component",
    "environment": "load_environment",
    "amlCompute": "load_compute",
    "managedOnlineEndpoint": "load_online_endpoint",
    "managedOnlineDeployment": "load_online_deployment",
    "batchEndpoint": "load_batch_endpoint",
    "batchDeployment": "load_batch_deployment",
}


def loader_name(document: dict[str, Any]) -> str:
    """The name of the `azure.ai.ml` loader for a compiled document."""
    kind = str(document["$schema"]).rsplit("/", 1)[-1].removesuffix(".schema.json")
    return _LOADERS[kind]


def load_asset(path: Path, loader: str) -> Any:
    """Load one YAML file with the SDK and run its local validation.

    Raises:
        AzureAssetError: the SDK refuses the file; the message is the SDK's.
    """
    ml = azure_ml()
    try:
        entity = getattr(ml, loader)(source=path)
        problems = _validate(entity)
    except Exception as err:  # the SDK raises many types; every one means an invalid asset
        raise AzureAssetError(f"{path.name} is not a valid Azure ML asset: {err}") from err
    if problems:
        raise AzureAssetError(f"{path.name} fails Azure ML validation: {'; '.join(problems)}")
    return entity


def _validate(entity: Any) -> list[str]:
    """Local validation: schema-validated entities return a result, others raise."""
    validate = getattr(entity, "_validate", None)
    if validate is None:
        return []
    result = validate(raise_error=False) if _takes_raise_error(validate) else validate()
    if result is None:
        return []
    return [f"{field}: {message}" for field, message in result.error_messages.items()]


def _takes_raise_error(function: Any) -> bool:
    import inspect

    return "raise_error" in inspect.signature(function).parameters


def validate_assets(folder: Path, compiled: CompiledAssets) -> dict[str, Any]:
    """Load and validate every asset of a compile from `folder`; `{path: SDK entity}`.

    Raises:
        AzureExtraMissingError: the azure extra is not installed.
        AzureAssetError: an asset is refused.
    """
    entities = {}
    for asset in compiled.assets:
        entities[asset.path] = load_asset(folder / asset.path, loader_name(asset.document))
        log.debug("validated %s", asset.path)
    return entities
