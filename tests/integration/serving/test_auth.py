"""Key auth like Azure ML endpoints: Bearer key on scoring calls, probes open."""

from __future__ import annotations

import pytest
import requests

from tests.integration.serving.conftest import SAMPLE, SCORING_KEY


@pytest.mark.parametrize("route", ["/score", "/invocations"])
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        f"Bearer {SCORING_KEY}x",
        f"Bearer {SCORING_KEY[:-1]}",
        SCORING_KEY,
        f"Basic {SCORING_KEY}",
        "Bearer wrong",
    ],
    ids=["missing", "empty", "no-key", "longer", "shorter", "no-scheme", "basic", "wrong"],
)
def test_missing_or_wrong_key_is_401(keyed_service, route, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}
    body = SAMPLE if route == "/score" else {"inputs": SAMPLE["data"]}
    response = requests.post(f"{keyed_service.url}{route}", json=body, headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error_code"] == "UNAUTHENTICATED"
    assert SCORING_KEY not in response.text


def test_right_key_scores(keyed_service):
    response = requests.post(
        f"{keyed_service.url}/score",
        json=SAMPLE,
        headers={"Authorization": f"Bearer {SCORING_KEY}"},
        timeout=10,
    )
    assert response.status_code == 200
    assert len(response.json()["result"]) == 2


def test_auth_is_checked_before_the_body(keyed_service):
    response = requests.post(f"{keyed_service.url}/score", data=b"{not json", timeout=10)
    assert response.status_code == 401


@pytest.mark.parametrize("route", ["/health", "/ready", "/metrics", "/ping", "/openapi.json"])
def test_probes_stay_open(keyed_service, route):
    assert requests.get(f"{keyed_service.url}{route}", timeout=10).status_code == 200


def test_key_from_file(service_factory, tmp_path):
    key_file = tmp_path / "scoring-key"
    key_file.write_text(SCORING_KEY + "\n")
    running = service_factory(scoring_key_file=key_file)
    url = f"{running.url}/score"
    assert requests.post(url, json=SAMPLE, timeout=10).status_code == 401
    headers = {"Authorization": f"Bearer {SCORING_KEY}"}
    assert requests.post(url, json=SAMPLE, headers=headers, timeout=10).status_code == 200
