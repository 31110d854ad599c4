"""Build the FastAPI app of the scoring service around a loaded model."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ml_service.errors import AuthenticationError, ScoringInputError
from ml_service.serving.deps import ServingContext
from ml_service.serving.middleware import ServiceMiddleware, error_body
from ml_service.serving.routes import health, scoring

log = logging.getLogger(__name__)


def _json_error(status: int, error_code: str, message: str, **headers: str) -> Response:
    return Response(
        content=error_body(error_code, message),
        status_code=status,
        media_type="application/json",
        headers=headers or None,
    )


async def _bad_input(_: Request, err: ScoringInputError) -> Response:
    return _json_error(err.status_code, err.error_code, str(err))


async def _unauthorized(_: Request, err: Exception) -> Response:
    return _json_error(401, "UNAUTHENTICATED", str(err), **{"WWW-Authenticate": "Bearer"})


async def _http_error(_: Request, err: StarletteHTTPException) -> Response:
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(err.status_code, "HTTP_ERROR")
    return _json_error(err.status_code, code, str(err.detail), **(err.headers or {}))


async def _invalid_request(_: Request, err: RequestValidationError) -> Response:
    # FastAPI's default answer echoes the offending input back; say only where it is.
    places = sorted({".".join(str(part) for part in e["loc"]) for e in err.errors()})
    return _json_error(400, "BAD_REQUEST", f"invalid request: {', '.join(places)}")


def create_app(context: ServingContext) -> FastAPI:
    """The scoring service for `context.model`.

    Start-up starts data collection and marks the service ready; shutdown marks
    it not ready, writes every collected record and flushes telemetry.
    """
    model = context.model

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if context.collector is not None:
            context.collector.start()
        # Everything loaded so far (MLflow, scikit-learn, pandas, the model) lives as long
        # as the process: keep it out of the cyclic GC's full collections, which would
        # otherwise walk it all every few large requests (100 ms pauses at p99).
        gc.freeze()
        context.ready = True
        log.info(
            "serving %s version %s",
            model.name,
            model.version,
            extra={"model_uri": model.uri, "features": list(model.features)},
        )
        try:
            yield
        finally:
            context.ready = False
            if context.collector is not None:
                context.collector.close()
                log.info("data collection flushed: %d records", context.collector.written)
            context.telemetry.shutdown()

    app = FastAPI(
        title=f"Scoring service: {model.name}",
        version=model.version or "unversioned",
        description=(
            f"Scores `{model.uri}`. Features, in order: {', '.join(model.features)}. "
            "Azure ML's `/score` and MLflow's `/invocations`."
        ),
        lifespan=lifespan,
    )
    app.state.context = context
    app.include_router(
        scoring.scoring_router(model.features, context.max_rows, model.input_example)
    )
    app.include_router(health.router)

    @app.get("/swagger.json", include_in_schema=False)
    async def swagger() -> Response:
        """The OpenAPI document under Azure ML's name for it."""
        return JSONResponse(app.openapi())

    app.add_exception_handler(ScoringInputError, _bad_input)  # type: ignore[arg-type]
    app.add_exception_handler(AuthenticationError, _unauthorized)
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    app.add_middleware(
        ServiceMiddleware,
        model_name=model.name,
        model_version=model.version,
        max_body_bytes=context.max_body_bytes,
        metrics=context.metrics,
        telemetry=context.telemetry,
    )
    return app
