"""What the routes depend on: the serving context and the key check, as typed aliases."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from ml_service.data.collected import DataCollector
from ml_service.errors import AuthenticationError
from ml_service.models.load import LoadedModel
from ml_service.serving.metrics import ServiceMetrics
from ml_service.serving.telemetry import Telemetry


@dataclass
class ServingContext:
    """Everything a request needs, built once at start-up."""

    model: LoadedModel
    scoring_key: str | None
    max_body_bytes: int
    max_rows: int
    metrics: ServiceMetrics
    collector: DataCollector | None
    telemetry: Telemetry
    ready: bool = False


# Dependencies are `async def` so FastAPI calls them inline; a plain `def` would be
# run in a worker thread, which costs more than scoring a row.
async def get_context(request: Request) -> ServingContext:
    """The app's serving context."""
    context: ServingContext = request.app.state.context
    return context


ContextDep = Annotated[ServingContext, Depends(get_context)]


def check_scoring_key(authorization: str | None, scoring_key: str | None) -> None:
    """Check an Authorization header against the key, in constant time; no key: no check.

    Raises:
        AuthenticationError: the header is missing, not `Bearer <key>`, or has the wrong key.
    """
    if scoring_key is None:
        return
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise AuthenticationError("missing scoring key: send `Authorization: Bearer <key>`")
    if not hmac.compare_digest(given.strip().encode(), scoring_key.encode()):
        raise AuthenticationError("wrong scoring key")


class ScoringKeyAuth(HTTPBearer):
    """The scoring routes' one dependency: checks the key and hands over the context.

    Being an HTTPBearer, it also documents the Bearer scheme in the OpenAPI
    document; being a single dependency keeps FastAPI's per-request work small.
    """

    async def __call__(self, request: Request) -> ServingContext:  # type: ignore[override]
        context: ServingContext = request.app.state.context
        check_scoring_key(request.headers.get("authorization"), context.scoring_key)
        return context


scoring_key_auth = ScoringKeyAuth(
    auto_error=False,
    scheme_name="ScoringKey",
    description="The scoring key (SCORING_KEY or SCORING_KEY_FILE), when key auth is on.",
)

ScoringContextDep = Annotated[ServingContext, Depends(scoring_key_auth)]
