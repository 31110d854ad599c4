"""The scoring contracts over real HTTP: Azure ML's /score and MLflow's /invocations."""

from __future__ import annotations

import numpy as np
import pytest
import requests
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from tests.integration.serving.conftest import SAMPLE
from tests.integration.serving.diabetes_model import FEATURES


@pytest.fixture(scope="module")
def expected():
    """The predictions of the same Ridge fitted here, for the 2-row sample."""
    X, y = load_diabetes(return_X_y=True)
    return Ridge(alpha=0.4).fit(X, y).predict(np.array(SAMPLE["data"], dtype=float)).tolist()


def test_score_answers_azure_ml_result(service, expected):
    response = requests.post(f"{service.url}/score", json=SAMPLE, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"result": pytest.approx(expected)}


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": list(FEATURES), "data": SAMPLE["data"]}},
        {
            "dataframe_split": {
                "columns": list(reversed(FEATURES)),
                "data": [list(reversed(row)) for row in SAMPLE["data"]],
            }
        },
        {"dataframe_records": [dict(zip(FEATURES, row, strict=True)) for row in SAMPLE["data"]]},
        {"inputs": SAMPLE["data"]},
        {"inputs": [dict(zip(FEATURES, row, strict=True)) for row in SAMPLE["data"]]},
        {"inputs": {name: [row[i] for row in SAMPLE["data"]] for i, name in enumerate(FEATURES)}},
        {"instances": SAMPLE["data"]},
    ],
    ids=[
        "split",
        "split-reordered",
        "records",
        "inputs-rows",
        "inputs-records",
        "inputs-columns",
        "instances",
    ],
)
def test_invocations_accepts_mlflow_formats(service, expected, body):
    response = requests.post(f"{service.url}/invocations", json=body, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": pytest.approx(expected)}


def test_mlflow_scoring_client_works_unchanged(service, expected):
    """MLflow's own scoring-server client (ping, version, invoke) works against the service."""
    import pandas as pd
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    client = ScoringServerClient("127.0.0.1", service.port)
    client.wait_server_ready(timeout=10)
    frame = pd.DataFrame(SAMPLE["data"], columns=list(FEATURES), dtype=float)
    predictions = client.invoke(frame).get_predictions()
    assert np.asarray(predictions).ravel().tolist() == pytest.approx(expected)


def test_every_response_names_model_and_request(service, registered_model):
    for response in (
        requests.post(f"{service.url}/score", json=SAMPLE, timeout=10),
        requests.get(f"{service.url}/health", timeout=10),
        requests.post(f"{service.url}/score", data=b"{", timeout=10),
        requests.get(f"{service.url}/nowhere", timeout=10),
    ):
        assert response.headers["x-model-name"] == registered_model.name
        assert response.headers["x-model-version"] == registered_model.version
        assert len(response.headers["x-request-id"]) >= 16


def test_caller_request_id_is_kept_and_unsafe_one_replaced(service):
    kept = requests.get(f"{service.url}/health", headers={"X-Request-ID": "abc-123"}, timeout=10)
    assert kept.headers["x-request-id"] == "abc-123"
    replaced = requests.get(
        f"{service.url}/health", headers={"X-Request-ID": "a b\tc<script>"}, timeout=10
    )
    assert replaced.headers["x-request-id"] != "a b\tc<script>"


def test_health_and_ready(service, registered_model):
    assert requests.get(f"{service.url}/health", timeout=10).json() == {"status": "ok"}
    assert requests.get(f"{service.url}/ready", timeout=10).json() == {
        "status": "ready",
        "model_name": registered_model.name,
        "model_version": registered_model.version,
    }
