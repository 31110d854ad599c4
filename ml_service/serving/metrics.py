"""Prometheus metrics of the scoring service, in a registry of its own (one per app)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Gauge, disable_created_metrics, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

_REQUESTS = ("scoring_requests", "HTTP requests answered, by route and status code.")
_LATENCY = ("scoring_request_duration_seconds", "Time from request to response, by route.")
_ROWS = ("scoring_rows", "Rows scored, by route.")
_COLLECTED = ("scoring_collected_requests", "Scored requests handed to data collection.")


class _RouteSeries:
    """One route's latency histogram and rows, as plain numbers."""

    __slots__ = ("buckets", "rows", "sum")

    def __init__(self) -> None:
        # One count per bucket, the last for +Inf; not cumulative until exported.
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.sum = 0.0
        self.rows = 0


class ServiceMetrics(Collector):
    """Request counts by route and status, latency, rows scored, and the model served.

    Requests are counted in plain Python numbers and turned into Prometheus
    metric families when scraped: prometheus_client's own metrics take a lock
    and make a call per update, which costs more than the rest of the
    bookkeeping of a one-row request. The exported names, labels, buckets and
    values are those of a Counter ("scoring_requests", "scoring_rows",
    "scoring_collected_requests") and a Histogram
    ("scoring_request_duration_seconds"). Counting happens on the event loop's
    thread only.
    """

    def __init__(self, model_name: str, model_version: str, model_uri: str) -> None:
        # The `_created` timestamp series double the output and no dashboard reads them.
        disable_created_metrics()
        self.registry = CollectorRegistry()
        self._requests: dict[tuple[str, int], int] = {}
        self._routes: dict[str, _RouteSeries] = {}
        self._collected = 0
        self.registry.register(self)
        model_info = Gauge(
            "scoring_model_info",
            "The model being served (always 1).",
            ["model_name", "model_version", "model_uri"],
            registry=self.registry,
        )
        model_info.labels(model_name, model_version, model_uri).set(1)

    def observe(self, route: str, status: int, seconds: float, rows: int) -> None:
        """Count one answered request."""
        key = (route, status)
        self._requests[key] = self._requests.get(key, 0) + 1
        series = self._routes.get(route)
        if series is None:
            series = self._routes[route] = _RouteSeries()
        # Prometheus buckets are upper bounds, inclusive (le): bisect_left finds the first
        # bound >= seconds, or the +Inf bucket.
        series.buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        series.sum += seconds
        series.rows += rows

    def count_collected(self) -> None:
        """Count one scored request handed to data collection."""
        self._collected += 1

    def collect(self) -> Iterator[Metric]:
        """The metric families, as the registry asks for them on a scrape."""
        requests = CounterMetricFamily(*_REQUESTS, labels=["route", "status"])
        for (route, status), count in list(self._requests.items()):
            requests.add_metric([route, str(status)], count)
        latency = HistogramMetricFamily(*_LATENCY, labels=["route"])
        rows = CounterMetricFamily(*_ROWS, labels=["route"])
        for route, series in list(self._routes.items()):
            cumulative, buckets = 0, []
            for bound, count in zip((*LATENCY_BUCKETS, float("inf")), series.buckets, strict=True):
                cumulative += count
                buckets.append((floatToGoString(bound), cumulative))
            latency.add_metric([route], buckets, series.sum)
            rows.add_metric([route], series.rows)
        yield requests
        yield latency
        yield rows
        yield CounterMetricFamily(*_COLLECTED, value=self._collected)

    def render(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)
