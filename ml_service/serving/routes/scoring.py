"""`POST /score` (Azure ML's contract) and `POST /invocations` (MLflow's scoring server)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from starlette.requests import ClientDisconnect
from starlette.types import Receive

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


def check_content_type(content_type: str) -> None:
    """Refuse a request body not declared as JSON.

    Raises:
        UnsupportedMediaTypeError: the Content-Type is not application/json.
    """
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        raise UnsupportedMediaTypeError("the Content-Type must be application/json")


async def receive_body(receive: Receive, max_body_bytes: int) -> bytes:
    """The request body, read from the ASGI channel and cut off past the size limit.

    The middleware already refuses a declared Content-Length over the limit; this
    also stops a chunked body as soon as it grows past it.

    Raises:
        PayloadTooLargeError: the body is larger than `max_body_bytes`.
        ClientDisconnect: the client went away before sending the whole body.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_body_bytes:
            raise PayloadTooLargeError(
                f"the request body is over {max_body_bytes} bytes, the most accepted"
            )
        if not message.get("more_body", False):
            if not chunks:
                return bytes(chunk)
            chunks.append(chunk)
            return b"".join(chunks)
        chunks.append(chunk)


def answer_body(
    context: ServingContext, state: dict[str, Any], batch: ScoredBatch, key: str
) -> bytes:
    """Count the rows, hand the request to data collection and render the JSON answer.

    Args:
        context: the serving context.
        state: the request's ASGI state (`scope["state"]`), holding its request id.
        batch: the scored rows.
        key: the answer's key (`result` for Azure ML, `predictions` for MLflow).
    """
    state["rows"] = len(batch.inputs)
    if context.collector is not None:
        model = context.model
        context.collector.collect_scored(
            state["request_id"],
            model.name,
            model.version,
            model.features,
            batch.inputs,
            batch.predictions,
        )
        context.metrics.count_collected()
    return orjson.dumps({key: batch.predictions}, option=orjson.OPT_SERIALIZE_NUMPY)


SCORERS: dict[str, tuple[Callable[..., ScoredBatch], str]] = {
    "/score": (score_azure_body, "result"),
    "/invocations": (score_mlflow_body, "predictions"),
}
"""Each scoring route's scorer and the key its answer puts the predictions under."""


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

    def route(path: str, schema: dict[str, Any], response_model: type, summary: str) -> None:
        scorer, key = SCORERS[path]

        @router.post(
            path,
            summary=summary,
            response_model=response_model,
            responses=_ERRORS,
            openapi_extra=body_spec(schema),
        )
        async def score(request: Request, context: ScoringContextDep) -> Response:
            # What the fast path (`serving.fastpath`) does too, with the same functions.
            check_content_type(request.headers.get("content-type", ""))
            body = await receive_body(request.receive, context.max_body_bytes)
            batch = scorer(context.model, body, max_rows=context.max_rows)
            state = request.scope["state"]
            return Response(
                content=answer_body(context, state, batch, key), media_type="application/json"
            )

        score.__name__ = f"score_{key}"

    route(
        "/score",
        score_request_schema(features, max_rows, example),
        ScoreResponse,
        'Azure ML\'s scoring call: {"data": [[...], ...]} → {"result": [...]}',
    )
    route(
        "/invocations",
        invocations_request_schema(features, max_rows, example),
        InvocationsResponse,
        "MLflow's scoring-server call: dataframe_split, dataframe_records or inputs",
    )
    return router
