"""Data collection under load: every accepted request is written, SIGTERM flushes, SIGKILL leaves
readable files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import numpy as np
import pytest
import requests

from ml_service.data.collected import collected_frame, read_collected
from tests.conftest import free_port
from tests.integration.serving.conftest import SAMPLE, run_service
from tests.integration.serving.diabetes_model import FEATURES

REQUESTS = 200
WORKERS = 16


def _post_all(url: str, count: int) -> list[str]:
    """Post `count` requests from WORKERS threads; return the request ids answered 200."""

    def post(i: int) -> str:
        body = {"data": [[float(i), *SAMPLE["data"][0][1:]]]}
        response = requests.post(f"{url}/score", json=body, timeout=30)
        assert response.status_code == 200
        return response.headers["x-request-id"]

    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(post, range(count)))


def test_concurrent_requests_are_all_collected_on_shutdown(registered_model, tmp_path):
    datastore = tmp_path / "datastore"
    with run_service(registered_model.workspace, mlops_datastore_uri=str(datastore)) as running:
        request_ids = _post_all(running.url, REQUESTS)
    records = read_collected(str(datastore), registered_model.name)
    assert sorted(r["request_id"] for r in records) == sorted(request_ids)
    record = records[0]
    assert record["model_name"] == registered_model.name
    assert record["model_version"] == registered_model.version
    assert record["features"] == list(FEATURES)
    assert len(record["inputs"]) == len(record["predictions"]) == 1
    today = datetime.now(UTC).date().isoformat()
    assert (datastore / "collected" / registered_model.name / f"date={today}").is_dir()
    frame = collected_frame(str(datastore), registered_model.name)
    assert len(frame) == REQUESTS
    assert sorted(frame["AGE"]) == [float(i) for i in range(REQUESTS)]
    assert np.isfinite(frame["prediction"]).all()


def test_collection_can_be_turned_off(registered_model, tmp_path):
    datastore = tmp_path / "datastore"
    with run_service(
        registered_model.workspace, mlops_datastore_uri=str(datastore), scoring_collect_data=False
    ) as running:
        _post_all(running.url, 5)
    assert not datastore.exists()


def test_rejected_requests_are_not_collected(registered_model, tmp_path):
    datastore = tmp_path / "datastore"
    with run_service(registered_model.workspace, mlops_datastore_uri=str(datastore)) as running:
        rejected = requests.post(f"{running.url}/score", json={"data": [[1]]}, timeout=10)
        # A good request beside it: collection is on, so an empty store would prove nothing.
        accepted = requests.post(f"{running.url}/score", json=SAMPLE, timeout=10)
    assert rejected.status_code == 400, rejected.text
    assert accepted.status_code == 200, accepted.text
    records = read_collected(str(datastore), registered_model.name)
    assert [r["request_id"] for r in records] == [accepted.headers["x-request-id"]]


@pytest.fixture
def service_process(registered_model, tmp_path):
    """`python -m ml_service.serving` as its own process; yields (process, url, datastore)."""
    datastore = tmp_path / "datastore"
    port = free_port()
    env = {
        **os.environ,
        "MLOPS_WORKSPACE": str(registered_model.workspace),
        "MLOPS_DATASTORE_URI": str(datastore),
    }
    log = (tmp_path / "service.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "ml_service.serving", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if requests.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert process.poll() is None, (tmp_path / "service.log").read_text()
            time.sleep(0.05)
        yield process, url, datastore
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)
        log.close()


def test_sigterm_flushes_every_accepted_request(service_process, registered_model):
    process, url, datastore = service_process
    request_ids = _post_all(url, REQUESTS)
    process.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert process.wait(30) in (0, -signal.SIGTERM)
    records = read_collected(str(datastore), registered_model.name)
    assert sorted(r["request_id"] for r in records) == sorted(request_ids)


def test_files_stay_readable_after_a_hard_kill(service_process, registered_model):
    process, url, datastore = service_process
    request_ids = set(_post_all(url, REQUESTS))
    # The writer flushes batch by batch without waiting for shutdown: wait until it has.
    for _ in range(200):
        if len(read_collected(str(datastore), registered_model.name)) == REQUESTS:
            break
        time.sleep(0.05)
    process.kill()
    process.wait(30)
    # A crash mid-write leaves at most a partial last line; simulate one.
    [part] = (datastore / "collected" / registered_model.name).glob("date=*/part-*.jsonl")
    with part.open("ab") as out:
        out.write(b'{"time": "2026-01-01T00:00:00+00:00", "request_id": "cut-sh')
    records = read_collected(str(datastore), registered_model.name)
    assert {r["request_id"] for r in records} == request_ids
