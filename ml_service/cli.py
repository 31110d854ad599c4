"""The `mlops` command: run the pipeline, manage datasets, inspect models."""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Any

import click

from ml_service.errors import MlopsError
from ml_service.pipelines.azureml.cli import endpoint_group, pipeline_group
from ml_service.serving.server import serve_command

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from ml_service.data_validation import DataChecks
    from ml_service.datasets import DatasetRegistry


class MlopsGroup(click.Group):
    """A click group that turns a user mistake into one line and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MlopsError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(1)


def configure_logging(verbose: bool) -> None:
    """Progress lines on stderr; MLflow's own chatter only with --verbose."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        # MLflow sets its own logger's level when imported; this is how it is told.
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
        for noisy in ("mlflow", "alembic", "urllib3", "git"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


@click.group(cls=MlopsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Show debug logs, MLflow's included.")
def cli(verbose: bool) -> None:
    """MLOps on one machine: versioned data, tracked training, a model registry."""
    configure_logging(verbose)


cli.add_command(serve_command)
cli.add_command(pipeline_group)
cli.add_command(endpoint_group)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `mlops` console script."""
    cli.main(args=argv, prog_name="mlops")


# -- run -------------------------------------------------------------------------


@cli.command("run")
@click.option("--model-name", default=None, help="Registered model name [default: MODEL_NAME].")
@click.option(
    "--dataset-version", default=None, help="Dataset version or latest [default: DATASET_VERSION]."
)
@click.option(
    "--data-file-path",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="Validate and register this file as a new dataset version, then train on it.",
)
@click.option("--caller-run-id", default=None, help="Id of the CI run that started this one.")
@click.option("--isolate-steps", is_flag=True, help="Run each step in its own Python process.")
@click.option(
    "--description",
    default=None,
    metavar="TEXT",
    help="What this run tries and why; shown as the run's description in the MLflow UI.",
)
def run_command(
    model_name: str | None,
    dataset_version: str | None,
    data_file_path: str | None,
    caller_run_id: str | None,
    isolate_steps: bool,
    description: str | None,
) -> None:
    """Build, publish and run the training pipeline: Train → Evaluate → Register."""
    from ml_service import summary
    from ml_service.pipelines.diabetes_regression_build_train_pipeline import build_and_publish
    from ml_service.pipelines.run_train_pipeline import run_published
    from ml_service.util.env_variables import load_env

    # Model packages in the current folder are importable, as with `python -m`
    # (a bootstrapped project runs from its own folder).
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    env = load_env()
    published = build_and_publish(env)
    result = run_published(
        env,
        published,
        {
            "model_name": model_name,
            "dataset_version": dataset_version,
            "data_file_path": data_file_path,
            "caller_run_id": caller_run_id,
        },
        isolate_steps=isolate_steps,
        description=description,
    )
    click.echo(summary.pipeline_run(result, env))


# -- data ------------------------------------------------------------------------


@cli.group("data", cls=MlopsGroup)
def data_group() -> None:
    """Versioned datasets: register, list, show, validate."""


def _dataset_registry() -> DatasetRegistry:
    from ml_service.datasets import DatasetRegistry
    from ml_service.util.env_variables import load_env

    return DatasetRegistry.from_env(load_env())


def _data_checks() -> DataChecks:
    from diabetes_regression.parameters import load_parameters

    return load_parameters().data


@data_group.command("register")
@click.option("--name", required=True, help="Dataset name.")
@click.option(
    "--path", "path", required=True, type=click.Path(dir_okay=False), help="CSV or Parquet file."
)
def data_register(name: str, path: str) -> None:
    """Validate a file and register it as the next version of NAME."""
    version, created = _dataset_registry().register(name, path, _data_checks())
    if created:
        click.echo(f"registered {version.ref} ({version.rows} rows, sha256 {version.digest[:12]})")
    else:
        click.echo(f"{path} is already registered as {version.ref}; nothing changed")


@data_group.command("list")
@click.argument("name", required=False)
def data_list(name: str | None) -> None:
    """List dataset versions (of NAME, or of every dataset)."""
    from ml_service import summary

    click.echo(summary.dataset_table(_dataset_registry().list_versions(name)))


@data_group.command("show")
@click.argument("ref", metavar="NAME[:VERSION]")
def data_show(ref: str) -> None:
    """Show one dataset version: digest, rows, schema and column statistics."""
    from ml_service import summary
    from ml_service.datasets import parse_dataset_ref

    name, version = parse_dataset_ref(ref)
    click.echo(summary.dataset_details(_dataset_registry().get(name, version)))


@data_group.command("validate")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option(
    "--reference",
    default=None,
    metavar="NAME[:VERSION]",
    help="Dataset version to compare the distribution with "
    "[default: the latest DATASET_NAME version, if any].",
)
def data_validate(path: str, reference: str | None) -> None:
    """Check a data file against the schema and a reference version's distribution."""
    from ml_service.data_validation import read_data_file, validate_frame
    from ml_service.datasets import parse_dataset_ref
    from ml_service.errors import DatasetNotFoundError
    from ml_service.util.env_variables import load_env

    registry = _dataset_registry()
    reference_version = None
    if reference:
        reference_version = registry.get(*parse_dataset_ref(reference))
    else:
        try:
            reference_version = registry.get(load_env().dataset_name)
        except DatasetNotFoundError:
            reference_version = None
    frame = validate_frame(
        read_data_file(path),
        _data_checks(),
        path,
        reference_version.stats if reference_version else None,
        reference_version.ref if reference_version else "",
    )
    against = f", distribution matches {reference_version.ref}" if reference_version else ""
    click.echo(f"{path}: valid ({len(frame)} rows{against})")


# -- model -----------------------------------------------------------------------


@cli.group("model", cls=MlopsGroup)
def model_group() -> None:
    """Registered models: list them, trace their lineage."""


def _tracking_client() -> MlflowClient:
    from ml_service.tracking import configure_tracking
    from ml_service.util.env_variables import load_env

    return configure_tracking(load_env()).client


@model_group.command("list")
def model_list() -> None:
    """List registered models with their newest version and aliases."""
    from ml_service import summary
    from ml_service.model_registry import list_models

    click.echo(summary.model_table(list_models(_tracking_client())))


@model_group.command("lineage")
@click.argument("ref", metavar="NAME[:VERSION|@ALIAS]")
def model_lineage(ref: str) -> None:
    """Trace a model version to its run, dataset version and digest, commit and build."""
    from ml_service import summary
    from ml_service.model_registry import lineage

    click.echo(summary.lineage_text(lineage(_tracking_client(), ref)))


# -- ui --------------------------------------------------------------------------


@cli.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
def ui_command(host: str, port: int) -> None:
    """Open the MLflow UI on the workspace: experiments, runs, registered models."""
    from ml_service.tracking import configure_tracking
    from ml_service.ui import run_ui
    from ml_service.util.env_variables import load_env

    env = load_env()
    configure_tracking(env)
    click.echo(f"MLflow UI on http://{host}:{port} (Ctrl-C stops it)", err=True)
    sys.exit(run_ui(env, host, port))


# -- bootstrap -------------------------------------------------------------------


@cli.command("bootstrap")
@click.option("--name", required=True, help="New package name, e.g. my_project.")
@click.option(
    "--output",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder to create the project folder NAME in.",
)
def bootstrap_command(name: str, output: str) -> None:
    """Create a new model project from the diabetes_regression template."""
    from pathlib import Path

    from ml_service.bootstrap import bootstrap, settings_for

    project = bootstrap(name, Path(output))
    click.echo(f"created {project}: package {name}/, .env, data/sample.csv")
    click.echo(f"next: cd {project} && mlops run --data-file-path data/sample.csv")
    click.echo(f"      mlops model lineage {settings_for(name)['MODEL_NAME']}@champion")


# -- server ----------------------------------------------------------------------


@cli.group("server", cls=MlopsGroup)
def server_group() -> None:
    """Team mode: a shared MLflow tracking server on PostgreSQL."""


@server_group.command("start")
@click.option(
    "--backend-store-uri",
    required=True,
    envvar="MLFLOW_BACKEND_STORE_URI",
    help="PostgreSQL URL, e.g. postgresql://USER@HOST:5432/DB; runs, models, datasets "
    "and published pipelines all live there [env: MLFLOW_BACKEND_STORE_URI].",
)
@click.option(
    "--artifacts-destination",
    required=True,
    help="Shared folder or fsspec/MLflow URL for artifacts; the datastore defaults to "
    "its `datastore/` subfolder.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=int,
    help="Server processes. One serves concurrent requests in threads; with more, uvicorn "
    "(0.54) leaves TCP_NODELAY off and every request waits ~40 ms more.",
)
@click.option(
    "--datastore-uri",
    default=None,
    help="Shared datastore for registered data [default: ARTIFACTS_DESTINATION/datastore].",
)
def server_start(
    backend_store_uri: str,
    artifacts_destination: str,
    host: str,
    port: int,
    workers: int,
    datastore_uri: str | None,
) -> None:
    """Migrate the database, record the team settings, then run `mlflow server`."""
    from ml_service.server import exec_server, prepare_server

    plan = prepare_server(
        backend_store_uri, artifacts_destination, host, port, workers, datastore_uri
    )
    logger = logging.getLogger("ml_service.server")
    logger.info("backend store  %s", plan.backend_store_uri_masked)
    logger.info("artifacts      %s", plan.artifacts_destination)
    logger.info("datastore      %s", plan.datastore_uri)
    logger.info("teammates run: export MLFLOW_TRACKING_URI=%s", plan.tracking_uri)
    exec_server(plan)
