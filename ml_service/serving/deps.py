"""What the routes depend on: the serving context and the key check, as typed aliases."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ml_service.collected_data import DataCollector
from ml_service.errors import AuthenticationError
from ml_service.serving.metrics import ServiceMetrics
from ml_service.serving.model import LoadedModel
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


def get_context(request: Request) -> ServingContext:
    """The app's serving context."""
    return request.app.state.context


ContextDep = Annotated[ServingContext, Depends(get_context)]

_bearer = HTTPBearer(
    auto_error=False,
    description="The scoring key (SCORING_KEY or SCORING_KEY_FILE), when key auth is on.",
)


def require_scoring_key(
    context: ContextDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Check `Authorization: Bearer <key>` in constant time when a key is configured.

    Raises:
        AuthenticationError: the key is missing or wrong.
    """
    if context.scoring_key is None:
        return
    if credentials is None:
        raise AuthenticationError("missing scoring key: send `Authorization: Bearer <key>`")
    if not hmac.compare_digest(credentials.credentials.encode(), context.scoring_key.encode()):
        raise AuthenticationError("wrong scoring key")


ScoringKeyDep = Annotated[None, Depends(require_scoring_key)]
