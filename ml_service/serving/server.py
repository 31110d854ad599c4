"""`mlops serve`: load the model once, then run the scoring service under uvicorn."""

from __future__ import annotations

import logging
import time

import click

from ml_service.errors import SettingsError
from ml_service.util.env_variables import Env, load_env

log = logging.getLogger(__name__)


def build_context(env: Env, model_uri: str | None = None):
    """Check the settings, resolve and load the model, and set up metrics, collection, telemetry.

    Args:
        env: the settings.
        model_uri: any MLflow model URI; default `models:/<MODEL_NAME>@production`
            if that alias exists, else `@champion`.

    Returns:
        The ServingContext to build the app with.

    Raises:
        SettingsError: an unsafe scoring key or an unusable datastore.
        ModelLoadError: the model cannot be found or loaded.
    """
    from ml_service.collected_data import DataCollector, datastore_root
    from ml_service.serving.deps import ServingContext
    from ml_service.serving.metrics import ServiceMetrics
    from ml_service.serving.model import default_model_uri, load_model, resolve_model_uri
    from ml_service.serving.settings import serving_settings
    from ml_service.serving.telemetry import configure_telemetry

    settings = serving_settings(env)
    model = load_model(resolve_model_uri(model_uri or default_model_uri(env), env))
    collector = DataCollector(datastore_root(env), model.name) if settings.collect_data else None
    return ServingContext(
        model=model,
        scoring_key=settings.scoring_key,
        max_body_bytes=settings.max_body_bytes,
        max_rows=settings.max_rows,
        metrics=ServiceMetrics(model.name, model.version, model.uri),
        collector=collector,
        telemetry=configure_telemetry(settings.connection_string, service_name=model.name),
    )


def uvicorn_config(app, host: str, port: int):
    """Uvicorn settings: uvloop and httptools when installed, our own access log, graceful stop."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="auto",
        http="auto",
        lifespan="on",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=30,
    )


def run_service(env: Env, model_uri: str | None, host: str, port: int) -> None:
    """Serve until SIGINT/SIGTERM; shutdown writes all collected data before exiting."""
    import uvicorn

    from ml_service.serving.app import create_app
    from ml_service.serving.telemetry import configure_json_logging

    started = time.perf_counter()
    configure_json_logging()
    context = build_context(env, model_uri)
    log.info(
        "model loaded in %.2f s", time.perf_counter() - started, extra={"host": host, "port": port}
    )
    uvicorn.Server(uvicorn_config(create_app(context), host, port)).run()


@click.command("serve")
@click.option(
    "--model",
    "model_uri",
    default=None,
    help="MLflow model URI, e.g. models:/diabetes_regression_model@champion "
    "[default: @production if set, else @champion].",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
def serve_command(model_uri: str | None, host: str, port: int) -> None:
    """Serve a registered model over HTTP: Azure ML's /score and MLflow's /invocations."""
    env = load_env()
    if port == 0:
        raise SettingsError("--port: give a port number, 0 is not served")
    run_service(env, model_uri, host, port)
