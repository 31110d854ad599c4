"""Data collection under load: every accepted request is written, SIGTERM flushes, SIGKILL leaves
readable files."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime

import numpy as np
import orjson
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


# Loaded by the service process (sitecustomize on its PYTHONPATH): the collector's writer
# lags behind the requests, so records are still queued when SIGTERM arrives and only the
# flush on shutdown can save them.
SLOW_WRITER = """
import time
from ml_service.data import collected

_write = collected.DataCollector._write


def _slow_write(self, batch):
    time.sleep(0.5)
    _write(self, batch)


collected.DataCollector._write = _slow_write
"""


@contextmanager
def _service_process(registered_model, tmp_path, slow_writer: bool = False):
    """`python -m ml_service.serving` as its own process; yields (process, url, datastore)."""
    datastore = tmp_path / "datastore"
    port = free_port()
    env = {
        **os.environ,
        "MLOPS_WORKSPACE": str(registered_model.workspace),
        "MLOPS_DATASTORE_URI": str(datastore),
    }
    if slow_writer:
        hooks = tmp_path / "hooks"
        hooks.mkdir()
        (hooks / "sitecustomize.py").write_text(SLOW_WRITER)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(hooks), env.get("PYTHONPATH")) if p)
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


@pytest.fixture
def service_process(registered_model, tmp_path):
    """The service as its own process; yields (process, url, datastore)."""
    with _service_process(registered_model, tmp_path) as running:
        yield running


@pytest.fixture
def slow_writer_service(registered_model, tmp_path):
    """The service as its own process, its collector writing late; yields (process, url,
    datastore)."""
    with _service_process(registered_model, tmp_path, slow_writer=True) as running:
        yield running


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


def _request_in_flight(port: int, body: bytes) -> socket.socket:
    """A /score request the service has started on: its headers are sent with
    `Expect: 100-continue`, and the service's `100 Continue` says the app is reading the
    body, which is not sent yet."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=60)
    connection.sendall(
        b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Expect: 100-continue\r\nConnection: close\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )  # fmt: skip
    interim = b""
    while not interim.endswith(b"\r\n\r\n"):
        chunk = connection.recv(1)
        assert chunk, "the service closed the connection before reading the body"
        interim += chunk
    assert interim.startswith(b"HTTP/1.1 100"), interim
    return connection


def test_sigterm_under_load_loses_no_answered_request(slow_writer_service, registered_model):
    """Clients keep posting while SIGTERM arrives: every request answered 200 is on disk,
    and a request in flight at SIGTERM is answered and collected."""
    process, url, datastore = slow_writer_service
    port = int(url.rsplit(":", 1)[1])
    answered: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    enough = threading.Event()

    def client(worker: int) -> None:
        with requests.Session() as session:
            i = 0
            while not stop.is_set():
                body = {"data": [[float(worker * 10_000 + i), *SAMPLE["data"][0][1:]]]}
                i += 1
                try:
                    response = session.post(f"{url}/score", json=body, timeout=60)
                except requests.ConnectionError:
                    return  # the server has stopped accepting: expected once SIGTERM is in
                if response.status_code != 200:
                    # Only a refusal because the service is going away is acceptable.
                    assert response.status_code == 503, response.text
                    return
                with lock:
                    answered.append(response.headers["x-request-id"])
                    if len(answered) >= REQUESTS:
                        enough.set()

    # As many rows as a request may carry: the longest record to write when SIGTERM is in.
    rows = [[-float(i), *SAMPLE["data"][0][1:]] for i in range(1, 10_001)]
    in_flight_body = orjson.dumps({"data": rows})
    with ThreadPoolExecutor(WORKERS) as pool:
        clients = [pool.submit(client, worker) for worker in range(WORKERS)]
        assert enough.wait(300), "the service did not answer under load"
        in_flight = _request_in_flight(port, in_flight_body)
        process.send_signal(signal.SIGTERM)
        in_flight.sendall(in_flight_body)
        reply = in_flight.makefile("rb").read()
        in_flight.close()
        stop.set()
        for done in clients:
            done.result()
    assert process.wait(60) in (0, -signal.SIGTERM)
    head = reply.split(b"\r\n\r\n", 1)[0].decode()
    assert head.startswith("HTTP/1.1 200"), reply[:300]
    in_flight_id = next(
        line.split(":", 1)[1].strip()
        for line in head.splitlines()
        if line.lower().startswith("x-request-id:")
    )
    records = read_collected(str(datastore), registered_model.name)
    on_disk = {r["request_id"] for r in records}
    assert len(answered) >= REQUESTS
    assert set(answered) <= on_disk
    [in_flight_record] = [r for r in records if r["request_id"] == in_flight_id]
    assert len(in_flight_record["predictions"]) == len(rows)
