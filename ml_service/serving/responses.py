"""The service's error answers, shared by FastAPI's exception handlers and the fast path."""

from __future__ import annotations

from starlette.responses import Response

from ml_service.errors import AuthenticationError, ScoringInputError
from ml_service.serving.middleware import error_body


def json_error(status: int, error_code: str, message: str, **headers: str) -> Response:
    """An error answer: `{"error_code": ..., "message": ...}` with the given status and headers."""
    return Response(
        content=error_body(error_code, message),
        status_code=status,
        media_type="application/json",
        headers=headers or None,
    )


def bad_input(err: ScoringInputError) -> Response:
    """The answer to a malformed scoring request (400, 413 or 415, as the error says)."""
    return json_error(err.status_code, err.error_code, str(err))


def unauthorized(err: AuthenticationError) -> Response:
    """The answer to a missing or wrong scoring key (401, asking for a Bearer token)."""
    return json_error(401, "UNAUTHENTICATED", str(err), **{"WWW-Authenticate": "Bearer"})
