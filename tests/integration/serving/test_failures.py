"""Faults inside the service: a 500 that names the request id, never the traceback."""

from __future__ import annotations

import dataclasses

import requests

from ml_service.serving.server import build_context
from ml_service.settings import load_env
from tests.integration.serving.conftest import SAMPLE, serve_context


def test_model_fault_is_a_500_without_traceback(registered_model, tmp_path):
    context = build_context(
        load_env(
            mlops_workspace=registered_model.workspace,
            mlops_datastore_uri=str(tmp_path / "datastore"),
        )
    )

    def broken_predict(matrix):
        raise RuntimeError("secret internal detail")

    context.model = dataclasses.replace(context.model, predict=broken_predict)
    with serve_context(context, registered_model.workspace) as running:
        response = requests.post(f"{running.url}/score", json=SAMPLE, timeout=10)
        assert response.status_code == 500
        body = response.json()
        assert body["error_code"] == "INTERNAL_ERROR"
        assert response.headers["x-request-id"] in body["message"]
        assert "secret internal detail" not in response.text
        assert "Traceback" not in response.text
        # The service keeps answering.
        assert requests.get(f"{running.url}/health", timeout=10).status_code == 200
        metrics = requests.get(f"{running.url}/metrics", timeout=10).text
        assert 'scoring_requests_total{route="/score",status="500"} 1.0' in metrics


def test_not_ready_answers_503(service):
    service.context.ready = False
    try:
        response = requests.get(f"{service.url}/ready", timeout=10)
    finally:
        service.context.ready = True
    assert response.status_code == 503
    assert response.json()["error_code"] == "NOT_READY"
