"""The service's Prometheus counters: every observation is counted under its own labels."""

from __future__ import annotations

import random

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.parser import text_string_to_metric_families

from ml_service.serving.metrics import LATENCY_BUCKETS, ServiceMetrics


def _samples(metrics: ServiceMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for sample in family.samples
    }


def test_observations_land_in_their_own_series():
    metrics = ServiceMetrics("m", "3", "models:/m/3")
    for route, status, rows in [
        ("/score", 200, 2),
        ("/score", 200, 5),
        ("/score", 400, 0),
        ("/invocations", 200, 1),
        ("other", 404, 0),
    ]:
        metrics.observe(route, status, 0.002, rows)
    samples = _samples(metrics)
    assert samples["scoring_requests_total", (("route", "/score"), ("status", "200"))] == 2
    assert samples["scoring_requests_total", (("route", "/score"), ("status", "400"))] == 1
    assert samples["scoring_requests_total", (("route", "/invocations"), ("status", "200"))] == 1
    assert samples["scoring_requests_total", (("route", "other"), ("status", "404"))] == 1
    assert samples["scoring_rows_total", (("route", "/score"),)] == 7
    assert samples["scoring_rows_total", (("route", "/invocations"),)] == 1
    assert samples["scoring_request_duration_seconds_count", (("route", "/score"),)] == 3
    assert (
        samples["scoring_request_duration_seconds_bucket", (("le", "0.001"), ("route", "/score"))]
        == 0
    )
    assert (
        samples["scoring_request_duration_seconds_bucket", (("le", "0.0025"), ("route", "/score"))]
        == 3
    )


def _reference(observations, collected: int) -> bytes:
    """What prometheus_client's own Counter and Histogram export for the same requests."""
    disable_created_metrics()
    registry = CollectorRegistry()
    requests = Counter(
        "scoring_requests",
        "HTTP requests answered, by route and status code.",
        ["route", "status"],
        registry=registry,
    )
    latency = Histogram(
        "scoring_request_duration_seconds",
        "Time from request to response, by route.",
        ["route"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    rows = Counter("scoring_rows", "Rows scored, by route.", ["route"], registry=registry)
    handed = Counter(
        "scoring_collected_requests",
        "Scored requests handed to data collection.",
        registry=registry,
    )
    Gauge(
        "scoring_model_info",
        "The model being served (always 1).",
        ["model_name", "model_version", "model_uri"],
        registry=registry,
    ).labels("m", "3", "models:/m/3").set(1)
    for route, status, seconds, scored in observations:
        requests.labels(route, str(status)).inc()
        latency.labels(route).observe(seconds)
        rows.labels(route).inc(scored)
    handed.inc(collected)
    return generate_latest(registry)


def test_the_export_is_what_prometheus_client_s_own_metrics_give():
    rng = random.Random(7)
    bounds = [*LATENCY_BUCKETS, 0.0, 3.0]  # on a bucket's bound, none, past the last
    observations = [
        (
            rng.choice(["/score", "/invocations", "other", "/metrics"]),
            rng.choice([200, 400, 401, 404, 500]),
            rng.choice([rng.choice(bounds), rng.random() * 0.02]),
            rng.choice([0, 1, 7]),
        )
        for _ in range(3000)
    ]
    metrics = ServiceMetrics("m", "3", "models:/m/3")
    assert metrics.render() == _reference([], 0)
    for observation in observations:
        metrics.observe(*observation)
    for _ in range(11):
        metrics.count_collected()
    assert metrics.render() == _reference(observations, 11)
