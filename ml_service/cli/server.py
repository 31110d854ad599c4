"""`mlops server start`: the team's shared MLflow tracking server on PostgreSQL."""

from __future__ import annotations

import logging

import click

from ml_service.cli.group import MlopsGroup


@click.group("server", cls=MlopsGroup)
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
    from ml_service.team.server import exec_server, prepare_server

    plan = prepare_server(
        backend_store_uri, artifacts_destination, host, port, workers, datastore_uri
    )
    logger = logging.getLogger("ml_service.team.server")
    logger.info("backend store  %s", plan.backend_store_uri_masked)
    logger.info("artifacts      %s", plan.artifacts_destination)
    logger.info("datastore      %s", plan.datastore_uri)
    logger.info("teammates run: export MLFLOW_TRACKING_URI=%s", plan.tracking_uri)
    exec_server(plan)
