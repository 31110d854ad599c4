"""Liveness, readiness and Prometheus metrics; open without a key, like Azure ML's probes."""

from __future__ import annotations

import functools
import importlib.metadata

from fastapi import APIRouter, Response

from ml_service.serving.deps import ContextDep
from ml_service.serving.schemas import ErrorResponse, HealthResponse, ReadyResponse

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=HealthResponse, summary="Liveness: the process answers")
async def health() -> HealthResponse:
    """Always `ok` while the process serves requests."""
    return HealthResponse(status="ok")


@router.get("/ping", response_class=Response, summary="MLflow's liveness probe")
async def ping() -> Response:
    """What `mlflow models serve` answers on /ping, for MLflow's clients and probes."""
    return Response(content=b"\n", media_type="application/json")


@router.get("/version", response_class=Response, summary="MLflow version (MLflow's /version)")
async def version() -> Response:
    """The installed MLflow version, as `mlflow models serve` answers on /version."""
    return Response(content=_mlflow_version().encode(), media_type="text/plain")


@functools.cache
def _mlflow_version() -> str:
    try:
        return importlib.metadata.version("mlflow")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@router.get(
    "/ready",
    response_model=ReadyResponse,
    responses={503: {"model": ErrorResponse, "description": "Starting or shutting down."}},
    summary="Readiness: the model is loaded",
)
async def ready(context: ContextDep) -> ReadyResponse | Response:
    """`ready` once the model is loaded; 503 before that and while shutting down."""
    if not context.ready:
        return Response(
            content=b'{"error_code":"NOT_READY","message":"the service is not ready"}',
            status_code=503,
            media_type="application/json",
        )
    return ReadyResponse(
        status="ready", model_name=context.model.name, model_version=context.model.version
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
)
async def metrics(context: ContextDep) -> Response:
    """Request counts by route and status, latency histogram, rows scored, model served."""
    return Response(
        content=context.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
    )
