"""Every kind of bad request gets a short 4xx that says what is wrong, never a 5xx or an echo."""

from __future__ import annotations

import json
import socket

import pytest
import requests

from tests.integration.serving.conftest import SAMPLE
from tests.integration.serving.diabetes_model import FEATURES

# A marker that must never come back in an error response.
MARK = "ZZ_ECHO_MARK_ZZ"
ROW = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
JSON = {"Content-Type": "application/json"}

BAD_SCORE_BODIES = {
    "malformed-json": (b'{"data": [[1, 2, ' + MARK.encode(), 400, "not valid JSON"),
    "empty-body": (b"", 400, "empty"),
    "blank-body": (b"  \n ", 400, "empty"),
    "not-an-object": (b'["' + MARK.encode() + b'"]', 400, "JSON object"),
    "no-data-key": (json.dumps({MARK: ROW}).encode(), 400, '"data"'),
    "unknown-key": (json.dumps({"data": [ROW], "x" + MARK: 1}).encode(), 400, "unknown key"),
    "data-not-list": (json.dumps({"data": MARK}).encode(), 400, "list of rows"),
    "no-rows": (b'{"data": []}', 400, "no rows"),
    "row-not-list": (json.dumps({"data": [MARK]}).encode(), 400, "row 0"),
    "too-few-features": (json.dumps({"data": [ROW[:9]]}).encode(), 400, "has 9 values"),
    "extra-feature": (json.dumps({"data": [[*ROW, 11]]}).encode(), 400, "has 11 values"),
    "ragged-rows": (json.dumps({"data": [ROW, ROW[:3]]}).encode(), 400, "row 1"),
    "string": (json.dumps({"data": [[*ROW[:9], MARK]]}).encode(), 400, "got a string"),
    "numeric-string": (json.dumps({"data": [[*ROW[:9], "10"]]}).encode(), 400, "got a string"),
    "null": (json.dumps({"data": [[*ROW[:9], None]]}).encode(), 400, "got null"),
    "boolean": (json.dumps({"data": [[*ROW[:9], True]]}).encode(), 400, "got a boolean"),
    "nested": (json.dumps({"data": [[*ROW[:9], [1]]]}).encode(), 400, "got an array"),
    "nan": (b'{"data": [[1,2,3,4,5,6,7,8,9,NaN]]}', 400, "NaN"),
    "infinity": (b'{"data": [[1,2,3,4,5,6,7,8,9,Infinity]]}', 400, "not valid JSON"),
    "overflow": (b'{"data": [[1,2,3,4,5,6,7,8,9,1e999]]}', 400, "not valid JSON"),
    "bad-utf8": (b'{"data": "\xff\xfe"}', 400, "not valid JSON"),
}


def assert_clean_error(response: requests.Response, status: int, says: str) -> None:
    """A JSON error with the expected status and message, without echo or traceback."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error_code", "message"}
    assert says in body["message"]
    assert len(body["message"]) < 300
    assert MARK not in response.text
    assert "Traceback" not in response.text and 'File "' not in response.text


@pytest.mark.parametrize(
    ("body", "status", "says"), BAD_SCORE_BODIES.values(), ids=BAD_SCORE_BODIES
)
def test_bad_score_body_is_a_clear_4xx(service, body, status, says):
    response = requests.post(f"{service.url}/score", data=body, headers=JSON, timeout=10)
    assert_clean_error(response, status, says)


BAD_INVOCATIONS_BODIES = {
    "no-format": ({"data": [ROW]}, "unknown key"),
    "two-formats": ({"inputs": [ROW], "instances": [ROW]}, "exactly one"),
    "params": ({"inputs": [ROW], "params": {"a": 1}}, "params"),
    "split-missing-column": (
        {"dataframe_split": {"columns": list(FEATURES[:9]), "data": [ROW[:9]]}},
        "missing features S6",
    ),
    "split-extra-column": (
        {"dataframe_split": {"columns": [*FEATURES, MARK], "data": [[*ROW, 1]]}},
        "unknown feature",
    ),
    "split-not-object": ({"dataframe_split": [ROW]}, '"columns" and "data"'),
    "split-unknown-key": (
        {"dataframe_split": {"columns": list(FEATURES), "data": [ROW], "dtypes": 1}},
        "unknown key",
    ),
    "records-extra-feature": (
        {"dataframe_records": [{**dict(zip(FEATURES, ROW, strict=True)), "EXTRA": 1}]},
        "unknown feature",
    ),
    "records-missing-feature": ({"dataframe_records": [{"AGE": 1}]}, "missing features"),
    "records-not-objects": ({"dataframe_records": [ROW]}, "must be an object"),
    "records-string-value": (
        {"dataframe_records": [{**dict(zip(FEATURES, ROW, strict=True)), "S6": "x"}]},
        "got a string",
    ),
    "columns-uneven": (
        {"inputs": {name: [1.0] * (2 if name == "S6" else 1) for name in FEATURES}},
        "different lengths",
    ),
    "inputs-scalar": ({"inputs": 3}, "list of rows"),
}


@pytest.mark.parametrize(
    ("body", "says"), BAD_INVOCATIONS_BODIES.values(), ids=BAD_INVOCATIONS_BODIES
)
def test_bad_invocations_body_is_a_clear_400(service, body, says):
    response = requests.post(f"{service.url}/invocations", json=body, timeout=10)
    assert_clean_error(response, 400, says)


@pytest.mark.parametrize("content_type", [None, "text/plain", "text/csv", "application/xml"])
def test_wrong_content_type_is_415(service, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = requests.post(
        f"{service.url}/score", data=json.dumps(SAMPLE), headers=headers, timeout=10
    )
    assert_clean_error(response, 415, "application/json")


def test_too_many_rows_is_400(service_factory):
    small = service_factory(scoring_max_rows=5)
    response = requests.post(f"{small.url}/score", json={"data": [ROW] * 6}, timeout=10)
    assert_clean_error(response, 400, "at most 5")
    response = requests.post(
        f"{small.url}/invocations",
        json={"dataframe_records": [dict(zip(FEATURES, ROW, strict=True))] * 6},
        timeout=10,
    )
    assert_clean_error(response, 400, "at most 5")
    assert requests.post(f"{small.url}/score", json={"data": [ROW] * 5}, timeout=10).ok


def _raw_request(port: int, head: bytes, body: bytes) -> bytes:
    """Send a request by hand and read the answer (the server may close early)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head + body)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and answer.endswith(b"}"):
                break
    return answer


def test_declared_oversized_body_is_refused_before_it_is_read(service_factory):
    small = service_factory(scoring_max_body_bytes=1000)
    head = (
        b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 50000000\r\n\r\n"
    )
    # Only the first bytes of the 50 MB announced are ever sent.
    answer = _raw_request(small.port, head, b'{"data": [[' + MARK.encode())
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"at most 1000" in answer
    assert MARK.encode() not in answer


def test_chunked_oversized_body_is_cut_off(service_factory):
    small = service_factory(scoring_max_body_bytes=1000)
    head = (
        b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"x" * 800
    body = b"%x\r\n%s\r\n" % (len(chunk), chunk) * 3 + b"0\r\n\r\n"
    answer = _raw_request(small.port, head, body)
    assert answer.startswith(b"HTTP/1.1 413 ")


def test_bad_content_length_is_4xx(service):
    head = (
        b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: abc\r\n\r\n"
    )
    answer = _raw_request(service.port, head, b"{}")
    assert answer.split(b" ")[1].startswith(b"4")


def test_unknown_route_and_method_are_json_4xx(service):
    assert_clean_error(requests.get(f"{service.url}/nowhere", timeout=10), 404, "Not Found")
    assert_clean_error(requests.get(f"{service.url}/score", timeout=10), 405, "Not Allowed")


def test_service_still_scores_after_bad_requests(service):
    for body, _, _ in BAD_SCORE_BODIES.values():
        requests.post(f"{service.url}/score", data=body, headers=JSON, timeout=10)
    response = requests.post(f"{service.url}/score", json=SAMPLE, timeout=10)
    assert response.status_code == 200
