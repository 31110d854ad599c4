"""The service's Prometheus counters: every observation is counted under its own labels."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from ml_service.serving.metrics import ServiceMetrics


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
