"""An endpoint's deployments in one process: weighted routing, pinning, per-deployment counts.

The routing table is immutable; the reconciler builds a new one beside the old
and swaps one attribute, so a request sees either the old split or the new
one, never half of each. The n-th request goes where the golden-ratio sequence
frac(n·φ) falls among the cumulative shares: deterministic, within a request or
two of the exact split over any number of requests, and spread out, so even a
client that sends every other request sees the same split (a round robin's
fixed period would hand it all or none of a canary). A request can pin a
deployment with Azure ML's `azureml-model-deployment` header.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ml_service.models.load import LoadedModel
from ml_service.serving.deps import ServingContext

DEPLOYMENT_HEADER = b"azureml-model-deployment"
ROUTED_PATHS = frozenset({"/score", "/invocations"})
LATENCY_WINDOW = 20_000
_GOLDEN = 0.6180339887498949  # frac of the golden ratio

_current: contextvars.ContextVar[LoadedModel | None] = contextvars.ContextVar(
    "deployment_model", default=None
)


class DeploymentStats:
    """Requests, server errors and latencies of one deployment since its traffic last changed."""

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)

    def observe(self, status: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests += 1
        if status >= 500:
            self.errors += 1
        self.latencies.append(seconds)

    def p99_ms(self) -> float | None:
        """The 99th percentile latency of the latest requests, in ms; None before any."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000, 3)


@dataclass
class LoadedDeployment:
    """A deployment whose model is loaded and checked."""

    name: str
    model: LoadedModel
    stats: DeploymentStats = field(default_factory=DeploymentStats)


@dataclass(frozen=True)
class RoutingTable:
    """Deployments loaded and their traffic shares (percent), since `since`."""

    deployments: dict[str, LoadedDeployment]
    traffic: dict[str, int]
    since: datetime

    def signature(self) -> tuple[tuple[str, str, str, int], ...]:
        """What identifies the table: name, model URI, version and share of each deployment."""
        return tuple(
            (name, d.model.uri, d.model.version, self.traffic.get(name, 0))
            for name, d in sorted(self.deployments.items())
        )


class Router:
    """Picks the deployment of each request from the current table."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.table = RoutingTable({}, {}, datetime.now(UTC))
        self.failed: dict[str, dict[str, str]] = {}
        self._count = 0
        self._lock = threading.Lock()

    def swap(self, table: RoutingTable) -> None:
        """Serve from `table` from the next request on (one assignment: atomic)."""
        with self._lock:
            self._count = 0
            self.table = table

    def pick(self, pinned: str | None) -> LoadedDeployment | None:
        """The pinned deployment, or the next by weight; None when nothing takes traffic.

        Raises:
            KeyError: the pinned deployment is not loaded.
        """
        table = self.table
        if pinned is not None:
            return table.deployments[pinned]
        weighted = [(n, w) for n, w in table.traffic.items() if w > 0 and n in table.deployments]
        if not weighted:
            return None
        with self._lock:
            point = (self._count * _GOLDEN) % 1.0 * sum(w for _, w in weighted)
            self._count += 1
        best = weighted[-1][0]
        for name, weight in weighted:
            if point < weight:
                best = name
                break
            point -= weight
        return table.deployments[best]

    def describe(self) -> dict[str, Any]:
        """The endpoint as /health, /ready and `mlops deploy status` show it."""
        table = self.table
        return {
            "endpoint": self.endpoint,
            "since": table.since.isoformat(),
            "deployments": [
                {
                    "name": name,
                    "model_name": d.model.name,
                    "model_version": d.model.version,
                    "model_uri": d.model.uri,
                    "traffic": table.traffic.get(name, 0),
                    "requests": d.stats.requests,
                    "errors": d.stats.errors,
                    "p99_ms": d.stats.p99_ms(),
                }
                for name, d in sorted(table.deployments.items())
            ],
            "failed": self.failed,
        }


class EndpointContext(ServingContext):
    """A serving context whose `model` is the model of the request's deployment."""

    _default: LoadedModel

    @property
    def model(self) -> LoadedModel:
        """The model of the deployment serving this request (set by RoutingMiddleware)."""
        return _current.get() or self._default

    @model.setter
    def model(self, value: LoadedModel) -> None:
        self._default = value


def _json(send: Send, status: int, payload: object) -> Any:
    body = orjson.dumps(payload)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]

    async def answer() -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return answer()


class RoutingMiddleware:
    """Routes scoring calls to a deployment; answers /health, /ready and /endpoint itself."""

    def __init__(self, app: ASGIApp, router: Router, context: ServingContext) -> None:
        self.app = app
        self.router = router
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path in ("/health", "/ready", "/endpoint") and scope["method"] == "GET":
            await self._describe(path, send)
            return
        if path not in ROUTED_PATHS:
            await self.app(scope, receive, send)
            return
        pinned = None
        for name, value in scope["headers"]:
            if name == DEPLOYMENT_HEADER:
                pinned = value.decode("latin-1").strip()
        try:
            deployment = self.router.pick(pinned)
        except KeyError:
            await _json(
                send,
                404,
                {
                    "error_code": "NO_SUCH_DEPLOYMENT",
                    "message": f"endpoint {self.router.endpoint} has no deployment {pinned!r}",
                },
            )
            return
        if deployment is None:
            await _json(
                send,
                503,
                {"error_code": "NO_TRAFFIC", "message": "no deployment takes traffic yet"},
            )
            return
        started = time.perf_counter()
        status = 500
        extra = [
            (DEPLOYMENT_HEADER, deployment.name.encode()),
        ]
        version = deployment.model.version.encode()

        async def send_tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (k, version if k == b"x-model-version" else v)
                    for k, v in message.get("headers", ())
                ]
                message["headers"] = [*headers, *extra]
            await send(message)

        token = _current.set(deployment.model)
        try:
            await self.app(scope, receive, send_tagged)
        finally:
            _current.reset(token)
            deployment.stats.observe(status, time.perf_counter() - started)

    async def _describe(self, path: str, send: Send) -> None:
        described = self.router.describe()
        if path == "/health":
            described = {"status": "ok", **described}
            for d in described["deployments"]:
                for key in ("requests", "errors", "p99_ms"):
                    d.pop(key)
            await _json(send, 200, described)
            return
        serving = any(d["traffic"] > 0 for d in described["deployments"])
        ready = self.context.ready and serving
        if path == "/ready":
            for d in described["deployments"]:
                for key in ("requests", "errors", "p99_ms"):
                    d.pop(key)
        status = 200 if ready or path == "/endpoint" else 503
        await _json(send, status, {"status": "ready" if ready else "not ready", **described})
