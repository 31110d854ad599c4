"""Submit the compiled training pipeline to an Azure ML workspace with `MLClient`.

Order matters: the workspace settings, the azure extra and a credential are
checked before anything is compiled, created or uploaded, so a missing one is
one clear error and no work. The job submitted is the very YAML
`mlops pipeline compile` writes, loaded by the SDK, with the run's parameter
values set on its inputs.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml_service.errors import AzureWorkspaceError, MlopsError
from ml_service.pipelines.azureml.assets import write_assets
from ml_service.pipelines.azureml.compiler import COMPUTE_FILE, PIPELINE_FILE, compile_training
from ml_service.pipelines.azureml.sdk import azure_identity, azure_ml, load_asset, validate_assets
from ml_service.pipelines.definition import with_parameters
from ml_service.pipelines.training import build_pipeline
from ml_service.settings import Env, load_env

log = logging.getLogger(__name__)

# The scope a token is asked for to prove a credential works (Azure Resource Manager).
MANAGEMENT_SCOPE = "https://management.azure.com/.default"
CREDENTIAL_HINT = (
    "run `az login`, or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET "
    "(a service principal), or run where a managed identity is assigned"
)


@dataclass(frozen=True)
class Workspace:
    """The Azure ML workspace the settings name."""

    subscription_id: str
    resource_group: str
    workspace_name: str


@dataclass(frozen=True)
class SubmittedJob:
    """A pipeline job as Azure ML accepted it; `name` is None when nothing was submitted."""

    name: str | None
    studio_url: str | None
    status: str | None


def workspace_from(env: Env) -> Workspace:
    """The workspace from SUBSCRIPTION_ID, RESOURCE_GROUP and WORKSPACE_NAME.

    Raises:
        AzureWorkspaceError: naming every one of them that is not set.
    """
    values = {
        "SUBSCRIPTION_ID": env.subscription_id,
        "RESOURCE_GROUP": env.resource_group,
        "WORKSPACE_NAME": env.workspace_name,
    }
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise AzureWorkspaceError(
            f"{', '.join(missing)} not set: name the Azure ML workspace to submit to "
            "in the environment or .env (see docs/azure.md)"
        )
    return Workspace(
        subscription_id=str(env.subscription_id),
        resource_group=str(env.resource_group),
        workspace_name=str(env.workspace_name),
    )


def default_credential() -> Any:
    """`DefaultAzureCredential`: environment, workload or managed identity, Azure CLI login."""
    return azure_identity().DefaultAzureCredential()


def checked_credential(factory: Callable[[], Any]) -> Any:
    """A credential that has proved it can get a token.

    Raises:
        AzureWorkspaceError: no credential was found or it was refused.
    """
    from azure.core.exceptions import ClientAuthenticationError

    try:
        credential = factory()
        credential.get_token(MANAGEMENT_SCOPE)
    except ClientAuthenticationError as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise AzureWorkspaceError(
            f"no usable Azure credential ({first_line}): {CREDENTIAL_HINT}"
        ) from err
    return credential


def ml_client(credential: Any, workspace: Workspace) -> Any:
    """An `MLClient` on the workspace (it makes no call until used)."""
    return azure_ml().MLClient(
        credential=credential,
        subscription_id=workspace.subscription_id,
        resource_group_name=workspace.resource_group,
        workspace_name=workspace.workspace_name,
    )


def ensure_compute(client: Any, compute_file: Path, name: str) -> None:
    """Create the compute cluster from `compute_file` unless the workspace has `name`."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        client.compute.get(name)
        log.info("compute cluster %s exists", name)
    except ResourceNotFoundError:
        log.info("creating compute cluster %s", name)
        client.compute.begin_create_or_update(load_asset(compute_file, "load_compute")).result()


def submit_training(
    env: Env,
    parameters: dict[str, str | None],
    description: str | None = None,
    submit: bool = True,
    wait: bool = False,
    client_factory: Callable[[Any, Workspace], Any] | None = None,
    credential_factory: Callable[[], Any] | None = None,
) -> SubmittedJob:
    """Check, compile, validate and (unless `submit` is False) submit the training pipeline.

    Args:
        env: The settings.
        parameters: Pipeline parameter values; None keeps the definition's default.
        description: What the run tries and why (the job's description).
        submit: False: stop after validation (nothing is created in the workspace).
        wait: Stream the job's logs until it ends.
        client_factory: Builds the MLClient; default `ml_client` (tests pass a recording fake).
        credential_factory: Builds the credential; default `default_credential`.

    Raises:
        AzureWorkspaceError: workspace settings or a credential are missing.
        AzureExtraMissingError: the azure extra is not installed.
        AzureAssetError: a compiled asset is refused by the SDK.
    """
    workspace = workspace_from(env)
    ml = azure_ml()
    credential = checked_credential(credential_factory or default_credential)
    spec = build_pipeline(env)
    try:
        values = with_parameters(spec, parameters)
    except ValueError as err:
        raise MlopsError(str(err)) from err
    with tempfile.TemporaryDirectory(prefix="mlops-azureml-") as scratch:
        out_dir = Path(scratch) / "training"
        compiled = compile_training(spec, env, out_dir)
        write_assets(compiled, out_dir, validate=validate_assets)
        job = ml.load_job(source=out_dir / PIPELINE_FILE)
        for name, value in values.items():
            # Attribute assignment keeps the SDK's input object (item assignment would not).
            setattr(job.inputs, name, value)
        if description:
            job.description = description
        if not submit:
            log.info(
                "pipeline %s %s compiled and validated; not submitted", spec.name, spec.version
            )
            return SubmittedJob(name=None, studio_url=None, status=None)
        client = (client_factory or ml_client)(credential, workspace)
        ensure_compute(client, out_dir / COMPUTE_FILE, env.aml_compute_cluster_name)
        created = client.jobs.create_or_update(job, experiment_name=env.experiment_name)
    log.info("submitted pipeline job %s (%s): %s", created.name, created.status, created.studio_url)
    if wait:
        client.jobs.stream(created.name)
    return SubmittedJob(name=created.name, studio_url=created.studio_url, status=created.status)


def run_train_pipeline_on_azureml(args: argparse.Namespace) -> None:
    """`run_train_pipeline --target azureml`: submit instead of running locally.

    Raises:
        MlopsError: an option that only applies locally.
    """
    if args.isolate_steps:
        raise MlopsError(
            "--isolate_steps applies to --target local: Azure ML runs every step in its own process"
        )
    submitted = submit_training(
        load_env(),
        {
            "model_name": args.model_name,
            "dataset_version": args.dataset_version,
            "data_file_path": args.data_file_path,
            "caller_run_id": args.caller_run_id,
        },
        description=args.description,
        submit=not args.skip_train_execution,
    )
    if args.output_pipeline_id_file and submitted.name:
        Path(args.output_pipeline_id_file).write_text(submitted.name, encoding="utf-8")
