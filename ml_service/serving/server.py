"""Run the scoring service: load the model once, then serve it under uvicorn."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from ml_service.settings import Env

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

    from ml_service.serving.deps import ServingContext

log = logging.getLogger(__name__)


def build_context(env: Env, model_uri: str | None = None) -> ServingContext:
    """Check the settings, resolve and load the model, and set up metrics, collection, telemetry.

    Args:
        env: the settings.
        model_uri: any MLflow model URI; default `models:/<MODEL_NAME>@production`
            if that alias exists, else `@champion`.

    Returns:
        The ServingContext to build the app with.

    Raises:
        SettingsError: an unsafe scoring key.
        ModelLoadError: the model cannot be found or loaded.
    """
    from ml_service.data.collected import DataCollector
    from ml_service.data.datastore import datastore_uri
    from ml_service.models.load import load_model
    from ml_service.models.resolve import default_model_uri, resolve_model_uri
    from ml_service.serving.deps import ServingContext
    from ml_service.serving.metrics import ServiceMetrics
    from ml_service.serving.settings import serving_settings
    from ml_service.serving.telemetry import configure_telemetry

    settings = serving_settings(env)
    model = load_model(resolve_model_uri(model_uri or default_model_uri(env), env))
    collector = DataCollector(datastore_uri(env), model.name) if settings.collect_data else None
    return ServingContext(
        model=model,
        scoring_key=settings.scoring_key,
        max_body_bytes=settings.max_body_bytes,
        max_rows=settings.max_rows,
        metrics=ServiceMetrics(model.name, model.version, model.uri),
        collector=collector,
        telemetry=configure_telemetry(settings.connection_string, service_name=model.name),
    )


def uvicorn_config(app: FastAPI, host: str, port: int) -> uvicorn.Config:
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
        # No `server: uvicorn` header: it tells a caller only what to attack.
        server_header=False,
        # The service reads neither the client's address nor the scheme, which is all
        # X-Forwarded-* would change: no per-request rewrite of them.
        proxy_headers=False,
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
