"""`mlops pipeline` and `mlops endpoint`: compile for Azure ML, validate offline, submit.

`--target` and `--pipeline` offer only what compiles today: the training and
the batch scoring pipelines (PIPELINES).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ml_service.settings import Env

if TYPE_CHECKING:
    # Imported by the commands that compile: every other `mlops` command would pay for it.
    from ml_service.pipelines.azureml.assets import CompiledAssets

log = logging.getLogger(__name__)

TARGETS = ("azureml",)


def _training(env: Env, out_dir: Path) -> CompiledAssets:
    from ml_service.pipelines.azureml.compiler import compile_training
    from ml_service.pipelines.training import build_pipeline

    return compile_training(build_pipeline(env), env, out_dir)


def _batch(env: Env, out_dir: Path) -> CompiledAssets:
    from ml_service.pipelines.azureml.compiler import compile_batch
    from ml_service.pipelines.batch_scoring import build_pipeline

    return compile_batch(build_pipeline(env), env, out_dir)


# Pipelines `mlops pipeline compile` knows, by the name `--pipeline` takes.
PIPELINES: dict[str, Callable[[Env, Path], CompiledAssets]] = {
    "training": _training,
    "batch": _batch,
}


def _write(compiled: CompiledAssets, out_dir: Path) -> None:
    from ml_service.pipelines.azureml.assets import write_assets
    from ml_service.pipelines.azureml.sdk import validate_assets

    written = write_assets(compiled, out_dir, validate=validate_assets)
    for path in written:
        click.echo(str(path))


target_option = click.option(
    "--target",
    type=click.Choice(TARGETS),
    required=True,
    help="The platform to compile for (the local twin is `mlops run`).",
)


@click.group("pipeline")
def pipeline_group() -> None:
    """The training and batch scoring pipelines on other platforms: compile, validate, submit."""


@pipeline_group.command("compile")
@target_option
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the assets to (created; files of the same names are replaced).",
)
@click.option(
    "--pipeline",
    "pipeline_name",
    type=click.Choice(sorted(PIPELINES)),
    default="training",
    show_default=True,
    help="Which pipeline.",
)
def compile_command(target: str, out_dir: Path, pipeline_name: str) -> None:
    """Write Azure ML assets validated by the SDK; then `az ml job create -f OUT/pipeline.yml`."""
    from ml_service.settings import load_env

    env = load_env()
    _write(PIPELINES[pipeline_name](env, out_dir.absolute()), out_dir)


@pipeline_group.command("submit")
@target_option
@click.option("--model-name", default=None, help="Registered model name [default: MODEL_NAME].")
@click.option(
    "--dataset-version", default=None, help="Dataset version or latest [default: DATASET_VERSION]."
)
@click.option(
    "--data-file-path",
    default=None,
    help="Data file the compute can read (azureml:// or abfs:// URL) to register and train on.",
)
@click.option("--caller-run-id", default=None, help="Id of the CI run that started this one.")
@click.option("--description", default=None, metavar="TEXT", help="What this run tries and why.")
@click.option("--wait", is_flag=True, help="Stream the job's logs until it ends.")
def submit_command(
    target: str,
    model_name: str | None,
    dataset_version: str | None,
    data_file_path: str | None,
    caller_run_id: str | None,
    description: str | None,
    wait: bool,
) -> None:
    """Compile, validate and submit the training pipeline to the workspace the settings name."""
    from ml_service.pipelines.azureml.submit import submit_training
    from ml_service.settings import load_env

    submitted = submit_training(
        load_env(),
        {
            "model_name": model_name,
            "dataset_version": dataset_version,
            "data_file_path": data_file_path,
            "caller_run_id": caller_run_id,
        },
        description=description,
        wait=wait,
    )
    click.echo(f"submitted {submitted.name} ({submitted.status}): {submitted.studio_url}")


@click.group("endpoint")
def endpoint_group() -> None:
    """Endpoints for a registered model version on other platforms."""


@endpoint_group.command("compile")
@target_option
@click.option(
    "--package",
    "package_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The model version's `mlops package` build context (image and model files).",
)
@click.option(
    "--model-version",
    default=None,
    help="Registered version of MODEL_NAME the package must hold [default: the package's].",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the assets to.",
)
@click.option(
    "--deployment",
    type=click.Choice(["blue", "green"]),
    default="blue",
    show_default=True,
    help="The online and batch deployment slot this version goes to.",
)
@click.option(
    "--traffic",
    default=None,
    metavar="SLOT=PCT,...",
    help="The endpoint's traffic after deploying, e.g. blue=90,green=10 [default: unchanged].",
)
def endpoint_compile_command(
    target: str,
    package_dir: Path,
    model_version: str | None,
    out_dir: Path,
    deployment: str,
    traffic: str | None,
) -> None:
    """Write the online and batch endpoints and their blue/green deployments, validated."""
    from ml_service.pipelines.azureml.endpoints import compile_endpoints, parse_traffic
    from ml_service.settings import load_env

    compiled = compile_endpoints(
        load_env(),
        package_dir.absolute(),
        out_dir.absolute(),
        slot=deployment,
        traffic=parse_traffic(traffic) if traffic is not None else None,
        model_version=model_version,
    )
    _write(compiled, out_dir)
