"""Build the FastAPI app of the scoring service around a loaded model."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from ml_service.errors import AuthenticationError, ScoringInputError
from ml_service.serving import responses
from ml_service.serving.deps import ServingContext
from ml_service.serving.fastpath import FastScoringRoute, ScoringEndpoint
from ml_service.serving.middleware import ServiceMiddleware
from ml_service.serving.routes import health, scoring

log = logging.getLogger(__name__)


async def _bad_input(_: Request, err: ScoringInputError) -> Response:
    return responses.bad_input(err)


async def _unauthorized(_: Request, err: AuthenticationError) -> Response:
    return responses.unauthorized(err)


async def _http_error(_: Request, err: StarletteHTTPException) -> Response:
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(err.status_code, "HTTP_ERROR")
    return responses.json_error(err.status_code, code, str(err.detail), **(err.headers or {}))


async def _invalid_request(_: Request, err: RequestValidationError) -> Response:
    # FastAPI's default answer echoes the offending input back; say only where it is.
    places = sorted({".".join(str(part) for part in e["loc"]) for e in err.errors()})
    return responses.json_error(400, "BAD_REQUEST", f"invalid request: {', '.join(places)}")


class ScoringApp(FastAPI):
    """The service's FastAPI app, whose scoring calls take the fast path (`serving.fastpath`).

    `fast_routes` maps a path to the ASGI app that answers a POST to it; every
    other request goes through FastAPI.
    """

    fast_routes: dict[str, ASGIApp]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            fast = self.fast_routes.get(scope["path"])
            if fast is not None:
                await fast(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(context: ServingContext, *, fast_path: bool = True) -> ScoringApp:
    """The scoring service for `context.model`.

    Start-up starts data collection and marks the service ready; shutdown marks
    it not ready, writes every collected record and flushes telemetry.

    Args:
        context: what the service serves and with which settings.
        fast_path: answer the scoring calls on the fast path (`serving.fastpath`);
            False sends them through FastAPI's declared handlers, which answer the
            same (the tests compare the two).
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

    app = ScoringApp(
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
    app.add_exception_handler(AuthenticationError, _unauthorized)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    service_options: dict[str, Any] = {
        "model_name": model.name,
        "model_version": model.version,
        "max_body_bytes": context.max_body_bytes,
        "metrics": context.metrics,
        "telemetry": context.telemetry,
    }
    app.add_middleware(ServiceMiddleware, **service_options)
    app.fast_routes = (
        {
            path: FastScoringRoute(ScoringEndpoint(context, scorer, key), **service_options)
            for path, (scorer, key) in scoring.SCORERS.items()
        }
        if fast_path
        else {}
    )
    return app
