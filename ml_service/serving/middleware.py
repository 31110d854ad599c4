"""The one ASGI middleware around every request: request id, size limit, headers, metrics, log.

Plain ASGI rather than Starlette's BaseHTTPMiddleware, which costs more than
the model's own prediction on a one-row request.
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ml_service.serving.metrics import ServiceMetrics
from ml_service.serving.telemetry import (
    ACCESS_LOGGER,
    JsonFormatter,
    Telemetry,
    direct_access_handler,
    parse_traceparent,
)

log = logging.getLogger(__name__)
access_log = logging.getLogger(ACCESS_LOGGER)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
KNOWN_ROUTES = frozenset(
    {
        "/score",
        "/invocations",
        "/health",
        "/ready",
        "/ping",
        "/version",
        "/metrics",
        "/openapi.json",
        "/swagger.json",
        "/docs",
    }
)


def error_body(error_code: str, message: str) -> bytes:
    """The JSON error body every failure answers with (MLflow's shape)."""
    return orjson.dumps({"error_code": error_code, "message": message})


class ServiceMiddleware:
    """Tags every response with the request id and the model; refuses oversized bodies early.

    Args:
        app: the application to wrap.
        model_name: the served model's name, sent in `x-model-name`.
        model_version: the served model's version, sent in `x-model-version`.
        max_body_bytes: a declared Content-Length above this is refused with 413
            before any of the body is read.
        metrics: where requests are counted.
        telemetry: the tracer, if traces are exported.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        model_name: str,
        model_version: str,
        max_body_bytes: int,
        metrics: ServiceMetrics,
        telemetry: Telemetry,
    ) -> None:
        self.app = app
        self.model_headers = [
            (b"x-model-name", model_name.encode()),
            (b"x-model-version", model_version.encode()),
        ]
        self.model_version = model_version
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        self.tracer = telemetry.tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = traceparent = content_length = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                request_id = candidate if _REQUEST_ID.match(candidate) else None
            elif name == b"traceparent":
                traceparent = parse_traceparent(value.decode("latin-1"))
            elif name == b"content-length":
                content_length = value
        # 128 random bits as 32 hex digits, like uuid4().hex at a fifth of its cost.
        request_id = request_id or os.urandom(16).hex()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["rows"] = 0
        response_headers = [*self.model_headers, (b"x-request-id", request_id.encode())]
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *response_headers]
            await send(message)

        span, token = self._start_span(scope, traceparent)
        try:
            too_large = self._declared_too_large(content_length)
            if too_large:
                await self._send_error(send_with_headers, 413, "PAYLOAD_TOO_LARGE", too_large)
            else:
                await self.app(scope, receive, send_with_headers)
        except Exception:
            await self._unhandled(send_with_headers, status, request_id)
        finally:
            self._finish(scope, status, started, request_id, traceparent, span, token)

    async def _unhandled(self, send: Send, status: int, request_id: str) -> None:
        """Log the error being handled; answer 500 unless an answer has started (`status`)."""
        log.exception("unhandled error", extra={"request_id": request_id})
        if status == 500:
            await self._send_error(
                send,
                500,
                "INTERNAL_ERROR",
                f"internal error; see the service log for request id {request_id}",
            )

    def _declared_too_large(self, content_length: bytes | None) -> str | None:
        if content_length is None:
            return None
        try:
            size = int(content_length)
        except ValueError:
            return "the Content-Length header is not a number"
        if size > self.max_body_bytes:
            return f"the request body is {size} bytes; at most {self.max_body_bytes} are accepted"
        return None

    @staticmethod
    async def _send_error(send: Send, status: int, error_code: str, message: str) -> None:
        body = error_body(error_code, message)
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        if status == 413:
            # The body was not read; the connection cannot be reused.
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _start_span(self, scope: Scope, traceparent: str | None) -> tuple[Any, Any]:
        if self.tracer is None:
            return None, None
        from opentelemetry import context, trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        parent = TraceContextTextMapPropagator().extract(
            {"traceparent": traceparent} if traceparent else {}
        )
        span = self.tracer.start_span(
            f"{scope['method']} {scope['path']}",
            context=parent,
            kind=trace.SpanKind.SERVER,
            attributes={"http.request.method": scope["method"], "url.path": scope["path"]},
        )
        return span, context.attach(trace.set_span_in_context(span))

    def _finish(
        self,
        scope: Scope,
        status: int,
        started: float,
        request_id: str,
        traceparent: str | None,
        span: Any,
        token: Any,
    ) -> None:
        seconds = time.perf_counter() - started
        path = scope["path"]
        route = path if path in KNOWN_ROUTES else "other"
        rows = scope["state"].get("rows", 0)
        self.metrics.observe(route, status, seconds, rows)
        fields = {
            "request_id": request_id,
            "traceparent": traceparent,
            "model_version": self.model_version,
            "route": route,
            "status": status,
            "rows": rows,
            "latency_ms": round(seconds * 1000, 3),
        }
        # Through `logging`, a record costs more than the rest of a one-row request; when
        # the access log goes only to the service's JSON handler (as `mlops serve` sets it
        # up), the same line is written to it directly, in batches.
        handler = direct_access_handler(access_log)
        if handler is None:
            access_log.info("%s %s %d", scope["method"], route, status, extra=fields)
        else:
            message = f"{scope['method']} {route} {status}"
            formatter: JsonFormatter = handler.formatter  # type: ignore[assignment]
            handler.write_line(formatter.line(time.time(), "INFO", ACCESS_LOGGER, message, fields))
        if span is not None:
            from opentelemetry import context
            from opentelemetry.trace import Status, StatusCode

            span.set_attribute("http.response.status_code", status)
            span.set_attribute("scoring.rows", rows)
            span.set_attribute("scoring.request_id", request_id)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            span.end()
            context.detach(token)
