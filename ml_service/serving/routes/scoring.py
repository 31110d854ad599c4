"""`POST /score` (Azure ML's contract) and `POST /invocations` (MLflow's scoring server)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from ml_service.data.collected import ScoredRequest
from ml_service.errors import PayloadTooLargeError, UnsupportedMediaTypeError
from ml_service.models.scoring import ScoredBatch, score_azure_body, score_mlflow_body
from ml_service.serving.deps import ScoringContextDep, ServingContext
from ml_service.serving.schemas import (
    ErrorResponse,
    InvocationsResponse,
    ScoreResponse,
    invocations_request_schema,
    score_request_schema,
)

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Malformed body or too many rows: says what."},
    401: {"model": ErrorResponse, "description": "Key auth is on and the key is missing or wrong."},
    413: {
        "model": ErrorResponse,
        "description": "Body over the size limit (SCORING_MAX_BODY_BYTES).",
    },
    415: {"model": ErrorResponse, "description": "Content-Type is not application/json."},
}


async def read_json_body(request: Request, max_body_bytes: int) -> bytes:
    """The request body, refused unless declared JSON, and cut off past the size limit.

    The middleware already refuses a declared Content-Length over the limit; this
    also stops a chunked body as soon as it grows past it.

    Raises:
        UnsupportedMediaTypeError: the Content-Type is not application/json.
        PayloadTooLargeError: the body is larger than `max_body_bytes`.
    """
    content_type = request.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        raise UnsupportedMediaTypeError("the Content-Type must be application/json")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_body_bytes:
            raise PayloadTooLargeError(
                f"the request body is over {max_body_bytes} bytes, the most accepted"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _answer(request: Request, context: ServingContext, batch: ScoredBatch, key: str) -> Response:
    rows = len(batch.inputs)
    request.state.rows = rows
    if context.collector is not None:
        model = context.model
        context.collector.collect(
            ScoredRequest(
                time=datetime.now(UTC),
                request_id=request.state.request_id,
                model_name=model.name,
                model_version=model.version,
                features=model.features,
                inputs=batch.inputs,
                predictions=batch.predictions,
            )
        )
        context.metrics.collected.inc()
    body = orjson.dumps({key: batch.predictions}, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(content=body, media_type="application/json")


def scoring_router(
    features: tuple[str, ...], max_rows: int, example: list[list[float]] | None
) -> APIRouter:
    """The scoring routes, their request schemas built from the model's features."""
    router = APIRouter(tags=["scoring"])

    def body_spec(schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": schema}},
            }
        }

    def route(
        path: str,
        schema: dict[str, Any],
        response_model: type,
        scorer: Callable[..., ScoredBatch],
        key: str,
        summary: str,
    ) -> None:
        @router.post(
            path,
            summary=summary,
            response_model=response_model,
            responses=_ERRORS,
            openapi_extra=body_spec(schema),
        )
        async def score(request: Request, context: ScoringContextDep) -> Response:
            body = await read_json_body(request, context.max_body_bytes)
            batch = scorer(context.model, body, max_rows=context.max_rows)
            return _answer(request, context, batch, key)

        score.__name__ = f"score_{key}"

    route(
        "/score",
        score_request_schema(features, max_rows, example),
        ScoreResponse,
        score_azure_body,
        "result",
        'Azure ML\'s scoring call: {"data": [[...], ...]} → {"result": [...]}',
    )
    route(
        "/invocations",
        invocations_request_schema(features, max_rows, example),
        InvocationsResponse,
        score_mlflow_body,
        "predictions",
        "MLflow's scoring-server call: dataframe_split, dataframe_records or inputs",
    )
    return router
