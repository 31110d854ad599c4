"""Prometheus metrics of the scoring service, in a registry of its own (one per app)."""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ServiceMetrics:
    """Request counts by route and status, latency, rows scored, and the model served."""

    def __init__(self, model_name: str, model_version: str, model_uri: str) -> None:
        # The `_created` timestamp series double the output and no dashboard reads them.
        disable_created_metrics()
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "scoring_requests",
            "HTTP requests answered, by route and status code.",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "scoring_request_duration_seconds",
            "Time from request to response, by route.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rows = Counter(
            "scoring_rows", "Rows scored, by route.", ["route"], registry=self.registry
        )
        self.collected = Counter(
            "scoring_collected_requests",
            "Scored requests handed to data collection.",
            registry=self.registry,
        )
        model_info = Gauge(
            "scoring_model_info",
            "The model being served (always 1).",
            ["model_name", "model_version", "model_uri"],
            registry=self.registry,
        )
        model_info.labels(model_name, model_version, model_uri).set(1)
        # `labels()` checks and looks up its arguments under a lock on every call, which
        # costs more than counting; each route's series are looked up once and kept.
        self._series: dict[tuple[str, int], tuple[Any, Any, Any]] = {}

    def observe(self, route: str, status: int, seconds: float, rows: int) -> None:
        """Count one answered request."""
        series = self._series.get((route, status))
        if series is None:
            series = self._series[route, status] = (
                self.requests.labels(route, str(status)),
                self.latency.labels(route),
                self.rows.labels(route),
            )
        requests, latency, scored = series
        requests.inc()
        latency.observe(seconds)
        if rows:
            scored.inc(rows)

    def render(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)
