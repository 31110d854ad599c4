"""`mlops serve --endpoint NAME`: serve an endpoint's deployments, reconciling to its state."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from ml_service.settings import Env

log = logging.getLogger(__name__)


def run_endpoint(
    env: Env, endpoint: str, host: str, port: int, state_file: Path | None = None
) -> None:
    """Serve endpoint `endpoint` until SIGINT/SIGTERM, following its desired state.

    The desired state is the project database's, or the fixed one of
    `state_file` (a packaged image's). The process holds the endpoint's lock
    file while it runs, so a second service for the same endpoint on this
    machine refuses to start.

    Raises:
        EndpointError: another process serves the endpoint, or it has no deployment.
        ModelLoadError: none of its deployments can be loaded.
    """
    import dataclasses

    import uvicorn

    from ml_service.data.collected import DataCollector
    from ml_service.data.datastore import datastore_uri
    from ml_service.deploy.process import hold_endpoint_lock
    from ml_service.deploy.state import Deployment, DeploymentState, DesiredState, FileState
    from ml_service.errors import EndpointError, ModelLoadError
    from ml_service.models.load import LoadedModel, load_model
    from ml_service.models.resolve import resolve_model_uri
    from ml_service.registry.database import registry_engine
    from ml_service.serving.app import create_app
    from ml_service.serving.metrics import ServiceMetrics
    from ml_service.serving.reconcile import Reconciler
    from ml_service.serving.routing import EndpointContext, Router, RoutingMiddleware
    from ml_service.serving.server import uvicorn_config
    from ml_service.serving.settings import serving_settings
    from ml_service.serving.telemetry import configure_json_logging, configure_telemetry

    started = time.perf_counter()
    configure_json_logging()
    settings = serving_settings(env)
    with hold_endpoint_lock(env, endpoint):
        state: DesiredState = (
            FileState(state_file) if state_file else DeploymentState(registry_engine(env))
        )

        def load(deployment: Deployment) -> LoadedModel:
            model = load_model(resolve_model_uri(deployment.model_uri, env))
            return dataclasses.replace(
                model, name=deployment.model_name, version=deployment.model_version
            )

        router = Router(endpoint)
        reconciler = Reconciler(state, router, load)
        reconciler.sync()
        loaded = router.table.deployments
        if not loaded:
            reasons = "; ".join(f"{n}: {f['reason']}" for n, f in router.failed.items())
            if reasons:
                raise ModelLoadError(f"endpoint {endpoint}: no deployment loads: {reasons}")
            raise EndpointError(f"endpoint {endpoint} has no deployment; run `mlops deploy`")
        model = next(iter(loaded.values())).model
        context = EndpointContext(
            model=model,
            scoring_key=settings.scoring_key,
            max_body_bytes=settings.max_body_bytes,
            max_rows=settings.max_rows,
            metrics=ServiceMetrics(model.name, f"endpoint:{endpoint}", model.uri),
            collector=(
                DataCollector(datastore_uri(env), model.name) if settings.collect_data else None
            ),
            telemetry=configure_telemetry(settings.connection_string, service_name=model.name),
        )
        app = RoutingMiddleware(create_app(context), router, context)
        log.info(
            "endpoint %s loaded in %.2f s",
            endpoint,
            time.perf_counter() - started,
            extra={"host": host, "port": port},
        )
        reconciler.start()
        try:
            uvicorn.Server(uvicorn_config(app, host, port)).run()  # type: ignore[arg-type]
        finally:
            reconciler.stop()
