"""Metrics, OpenAPI document and structured logs of a running service."""

from __future__ import annotations

import logging
import time

import requests

from ml_service.serving.telemetry import ACCESS_LOGGER
from tests.integration.serving.conftest import SAMPLE
from tests.integration.serving.diabetes_model import FEATURES


def _metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, value = line.rsplit(" ", 1)
        metric, _, rest = series.partition("{")
        present = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
        if metric == name and present == wanted:
            return float(value)
    return 0.0


def test_metrics_count_requests_latency_rows_and_model(service_factory, registered_model):
    running = service_factory()
    for _ in range(3):
        requests.post(f"{running.url}/score", json=SAMPLE, timeout=10)
    requests.post(f"{running.url}/score", data=b"{", timeout=10)
    requests.post(f"{running.url}/invocations", json={"inputs": SAMPLE["data"][:1]}, timeout=10)
    response = requests.get(f"{running.url}/metrics", timeout=10)
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert _metric(text, "scoring_requests_total", route="/score", status="200") == 3
    assert _metric(text, "scoring_requests_total", route="/score", status="415") == 1
    assert _metric(text, "scoring_requests_total", route="/invocations", status="200") == 1
    assert _metric(text, "scoring_rows_total", route="/score") == 6
    assert _metric(text, "scoring_rows_total", route="/invocations") == 1
    assert _metric(text, "scoring_request_duration_seconds_count", route="/score") == 4
    assert _metric(text, "scoring_request_duration_seconds_bucket", route="/score", le="+Inf") == 4
    assert (
        _metric(
            text,
            "scoring_model_info",
            model_name=registered_model.name,
            model_version=registered_model.version,
            model_uri=f"models:/{registered_model.name}@champion",
        )
        == 1
    )
    assert _metric(text, "scoring_collected_requests_total") == 4


def test_unknown_paths_share_one_metrics_label(service_factory):
    running = service_factory()
    for path in ("/a", "/b", "/c"):
        requests.get(f"{running.url}{path}", timeout=10)
    text = requests.get(f"{running.url}/metrics", timeout=10).text
    assert _metric(text, "scoring_requests_total", route="other", status="404") == 3
    assert 'route="/a"' not in text


def test_openapi_documents_named_features_and_responses(service):
    document = requests.get(f"{service.url}/openapi.json", timeout=10).json()
    assert requests.get(f"{service.url}/swagger.json", timeout=10).json() == document
    score = document["paths"]["/score"]["post"]
    body = score["requestBody"]["content"]["application/json"]["schema"]
    row = body["properties"]["data"]["items"]
    assert (row["minItems"], row["maxItems"]) == (10, 10)
    assert [item["title"] for item in row["prefixItems"]] == list(FEATURES)
    assert ", ".join(FEATURES) in row["description"]
    assert body["example"]["data"] and len(body["example"]["data"][0]) == 10
    assert {"200", "400", "401", "413", "415"} <= set(score["responses"])
    result = score["responses"]["200"]["content"]["application/json"]["schema"]
    assert result == {"$ref": "#/components/schemas/ScoreResponse"}
    invocations = document["paths"]["/invocations"]["post"]
    formats = invocations["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert [next(iter(f["properties"])) for f in formats] == [
        "dataframe_split",
        "dataframe_records",
        "inputs",
        "instances",
    ]
    # What the service accepts is documented: `columns` may be left out (feature order),
    # `index` is allowed, and `instances` is the same as `inputs`.
    split = formats[0]["properties"]["dataframe_split"]
    assert split["required"] == ["data"] and "index" in split["properties"]
    assert formats[2]["properties"]["inputs"] == formats[3]["properties"]["instances"]
    record = formats[1]["properties"]["dataframe_records"]["items"]
    assert list(record["properties"]) == list(FEATURES)
    assert record["additionalProperties"] is False
    assert "ScoringKey" in document["components"]["securitySchemes"]


def test_docs_page_is_served(service):
    response = requests.get(f"{service.url}/docs", timeout=10)
    assert response.status_code == 200
    assert "swagger" in response.text.lower()


def test_access_log_has_request_id_traceparent_version_rows_latency(service, caplog):
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        response = requests.post(
            f"{service.url}/score",
            json=SAMPLE,
            headers={"traceparent": traceparent, "X-Request-ID": "req-42"},
            timeout=10,
        )
        assert response.status_code == 200
        # The access line is written just after the response is sent.
        for _ in range(100):
            found = [r for r in caplog.records if getattr(r, "request_id", None) == "req-42"]
            if found:
                break
            time.sleep(0.02)
    [record] = found
    assert record.traceparent == traceparent
    assert record.model_version == service.context.model.version
    assert record.rows == 2
    assert record.status == 200
    assert record.latency_ms > 0
    assert record.route == "/score"
