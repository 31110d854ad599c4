"""The scoring calls' fast path answers exactly what FastAPI's declared handlers answer.

Two services with the same model and settings, one with the fast path (as
shipped) and one sending the scoring calls through FastAPI (`fast_path=False`),
get the same requests: hand-written bad and good bodies, the cases schemathesis
generates from the published OpenAPI document (valid and invalid), auth
failures, oversized bodies. Status, body and headers must be the same (the date
and the fresh request id aside), and so must metrics and the access log.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import time
from collections.abc import Iterator

import pytest
import requests
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode

from ml_service.serving.telemetry import ACCESS_LOGGER
from tests.integration.serving.conftest import SAMPLE, SCORING_KEY, RunningService, run_service
from tests.integration.serving.diabetes_model import FEATURES
from tests.integration.serving.test_bad_input import (
    BAD_INVOCATIONS_BODIES,
    BAD_SCORE_BODIES,
    ROW,
)

MAX_ROWS = 5
MAX_BODY = 4000
AUTH = {"Authorization": f"Bearer {SCORING_KEY}"}
JSON = {"Content-Type": "application/json"}
# Differ between any two answers by design.
VOLATILE_HEADERS = {"date", "x-request-id"}
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture(scope="module")
def pair(registered_model, tmp_path_factory) -> Iterator[tuple[RunningService, RunningService]]:
    """(fast path, FastAPI's handlers): same model, same settings, key auth on."""
    settings_ = {
        "scoring_key": SCORING_KEY,
        "scoring_max_rows": MAX_ROWS,
        "scoring_max_body_bytes": MAX_BODY,
    }
    with (
        run_service(
            registered_model.workspace,
            mlops_datastore_uri=str(tmp_path_factory.mktemp("fast")),
            **settings_,
        ) as fast,
        run_service(
            registered_model.workspace,
            fast_path=False,
            mlops_datastore_uri=str(tmp_path_factory.mktemp("declared")),
            **settings_,
        ) as declared,
    ):
        yield fast, declared


def _answer(response) -> tuple[int, bytes, list[tuple[str, str]]]:
    """Status, body and headers (a requests or a schemathesis response), volatile ones aside."""
    headers = sorted(
        (name.lower(), value if isinstance(value, str) else ", ".join(value))
        for name, value in response.headers.items()
    )
    return (
        response.status_code,
        response.content,
        [(name, value) for name, value in headers if name not in VOLATILE_HEADERS],
    )


def both(pair, path: str, **request) -> tuple[int, bytes, list[tuple[str, str]]]:
    """POST the same request to both services; their answers must be equal."""
    fast, declared = pair
    answers = [
        _answer(requests.post(f"{service.url}{path}", timeout=10, **request))
        for service in (fast, declared)
    ]
    assert answers[0] == answers[1], request
    return answers[0]


CORPUS: dict[str, tuple[bytes, dict[str, str]]] = {
    **{f"score-{name}": (body, JSON | AUTH) for name, (body, _, _) in BAD_SCORE_BODIES.items()},
    **{
        f"invocations-{name}": (json.dumps(body).encode(), JSON | AUTH)
        for name, (body, _) in BAD_INVOCATIONS_BODIES.items()
    },
    "valid": (json.dumps(SAMPLE).encode(), JSON | AUTH),
    "too-many-rows": (json.dumps({"data": [ROW] * (MAX_ROWS + 1)}).encode(), JSON | AUTH),
    "over-the-size-limit": (json.dumps({"data": [ROW] * 400}).encode(), JSON | AUTH),
    "json-with-charset": (
        json.dumps(SAMPLE).encode(),
        {"Content-Type": "Application/JSON; charset=utf-8"} | AUTH,
    ),
    "no-content-type": (json.dumps(SAMPLE).encode(), AUTH),
    "text-plain": (json.dumps(SAMPLE).encode(), {"Content-Type": "text/plain"} | AUTH),
    "no-key": (json.dumps(SAMPLE).encode(), JSON),
    "wrong-key": (json.dumps(SAMPLE).encode(), JSON | {"Authorization": "Bearer wrong-key-0000"}),
    "not-bearer": (json.dumps(SAMPLE).encode(), JSON | {"Authorization": f"Basic {SCORING_KEY}"}),
    "no-key-bad-content-type": (b"x", {"Content-Type": "text/plain"}),
    "split": (
        json.dumps({"dataframe_split": {"columns": list(FEATURES), "data": [ROW]}}).encode(),
        JSON | AUTH,
    ),
    "split-without-columns": (
        json.dumps({"dataframe_split": {"data": [ROW]}}).encode(),
        JSON | AUTH,
    ),
    "split-with-index": (
        json.dumps({"dataframe_split": {"data": [ROW], "index": [7]}}).encode(),
        JSON | AUTH,
    ),
    "instances-columns": (
        json.dumps({"instances": {name: [1.0, 2.0] for name in FEATURES}}).encode(),
        JSON | AUTH,
    ),
    "records": (
        json.dumps({"dataframe_records": [dict(zip(FEATURES, ROW, strict=True))]}).encode(),
        JSON | AUTH,
    ),
}


@pytest.mark.parametrize("path", ["/score", "/invocations"])
@pytest.mark.parametrize(("body", "headers"), CORPUS.values(), ids=CORPUS)
def test_same_answer_on_both_paths(pair, path, body, headers):
    both(pair, path, data=body, headers=headers)


def test_the_corpus_covers_success_and_every_error_status(pair):
    statuses = {
        both(pair, path, data=body, headers=headers)[0]
        for body, headers in CORPUS.values()
        for path in ("/score", "/invocations")
    }
    assert statuses == {200, 400, 401, 413, 415}


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and answer.endswith(b"}"):
                break
    return re.sub(rb"(?im)^(date|x-request-id): [^\r]*\r\n", b"", answer)


@pytest.mark.parametrize(
    "head",
    [
        b"Content-Length: 50000000\r\n\r\n",
        b"Transfer-Encoding: chunked\r\n\r\n" + (b"%x\r\n%s\r\n" % (1500, b"x" * 1500)) * 3,
        b"Content-Length: abc\r\n\r\n{}",
    ],
    ids=["declared-oversized", "chunked-oversized", "bad-content-length"],
)
def test_same_answer_to_oversized_and_broken_framing(pair, head):
    request = (
        b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + SCORING_KEY.encode() + b"\r\n" + head
    )
    fast, declared = pair
    assert _raw(fast.port, request) == _raw(declared.port, request)


@pytest.fixture(scope="module")
def operations(pair):
    schema = schemathesis.openapi.from_url(f"{pair[0].url}/openapi.json")
    return {
        f"{op.method.upper()} {op.path}": op for op in (r.ok() for r in schema.get_all_operations())
    }


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("operation", ["POST /score", "POST /invocations"])
def test_same_answer_to_what_the_openapi_document_generates(pair, operations, operation, mode):
    """Valid and invalid bodies drawn from the published request schemas."""
    fast, declared = pair
    statuses: list[int] = []

    @given(case=operations[operation].as_strategy(generation_mode=mode))
    @settings(
        max_examples=60,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        answers = [
            _answer(requests.request(**case.as_transport_kwargs(service.url, AUTH), timeout=10))
            for service in (fast, declared)
        ]
        assert answers[0] == answers[1]
        statuses.append(answers[0][0])

    check()
    assert 200 in statuses if mode is GenerationMode.POSITIVE else 400 in statuses


def _counts(service: RunningService) -> list[str]:
    """The service's request, row and collection counts of the scoring routes."""
    text = requests.get(f"{service.url}/metrics", timeout=10).text
    return sorted(
        line
        for line in text.splitlines()
        if line.startswith("scoring_collected_requests_total")
        or (
            line.startswith(
                (
                    "scoring_requests_total",
                    "scoring_rows_total",
                    "scoring_request_duration_seconds_count",
                )
            )
            and ('route="/score"' in line or 'route="/invocations"' in line)
        )
    )


def test_same_metrics_and_access_log(pair, caplog):
    fast, declared = pair
    assert _counts(fast) == _counts(declared)  # after every test above
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    for sent, (path, body, headers) in enumerate(
        [
            ("/score", SAMPLE, AUTH),
            ("/invocations", {"inputs": [ROW, ROW, ROW]}, AUTH),
            ("/score", SAMPLE, {}),
            ("/score", {"data": []}, AUTH),
        ],
        start=1,
    ):
        both(pair, path, json=body, headers=headers | {"traceparent": TRACEPARENT})
        # A service logs the access after its answer is sent: wait for both records,
        # so each pair of entries belongs to one request.
        _wait_for_access_records(caplog, count=2 * sent)
    fields = ("route", "status", "rows", "model_version", "traceparent")
    logged = [
        (record.getMessage(), *(getattr(record, name) for name in fields))
        for record in _access_records(caplog)
    ]
    assert logged[0::2] == logged[1::2]
    assert [entry[2:4] for entry in logged[0::2]] == [(200, 2), (200, 3), (401, 0), (400, 0)]
    assert _counts(fast) == _counts(declared)


def _access_records(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == ACCESS_LOGGER]


def _wait_for_access_records(caplog, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(_access_records(caplog)) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(_access_records(caplog)) == count


def test_openapi_document_is_the_same_on_both(pair):
    documents = [requests.get(f"{s.url}/openapi.json", timeout=10).json() for s in pair]
    assert documents[0] == documents[1]
    for path in ("/score", "/invocations"):
        post = documents[0]["paths"][path]["post"]
        assert post["requestBody"]["content"]["application/json"]["schema"]
        assert {"200", "400", "401", "413", "415"} <= set(post["responses"])


def test_scoring_calls_skip_fastapi_and_the_rest_do_not(service, monkeypatch):
    """The fast path really answers the scoring calls; FastAPI answers everything else."""
    calls: list[str] = []
    through_fastapi = FastAPI.__call__

    async def counting(self, scope, receive, send):
        calls.append(f"{scope.get('method')} {scope.get('path')}")
        await through_fastapi(self, scope, receive, send)

    monkeypatch.setattr(FastAPI, "__call__", counting)
    assert requests.post(f"{service.url}/score", json=SAMPLE, timeout=10).ok
    assert requests.post(f"{service.url}/invocations", json={"inputs": [ROW]}, timeout=10).ok
    assert requests.post(f"{service.url}/score?x=1", json=SAMPLE, timeout=10).ok
    assert calls == []
    assert requests.get(f"{service.url}/health", timeout=10).ok
    assert requests.get(f"{service.url}/score", timeout=10).status_code == 405
    slash = requests.post(f"{service.url}/score/", json=SAMPLE, timeout=10, allow_redirects=False)
    assert slash.status_code == 307
    assert calls == ["GET /health", "GET /score", "POST /score/"]
