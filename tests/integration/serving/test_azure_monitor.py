"""With APPLICATIONINSIGHTS_CONNECTION_STRING set, requests and logs reach Azure Monitor.

Azure Monitor's ingestion endpoint is played by a small HTTP server on loopback,
named in the connection string as Application Insights allows.
"""

from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.integration.serving.conftest import SAMPLE, run_service

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture
def ingestion():
    """A fake ingestion endpoint; yields (connection string, received envelopes)."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            items = json.loads(body)
            received.extend(items if isinstance(items, list) else [items])
            answer = json.dumps(
                {"itemsReceived": len(received), "itemsAccepted": len(received), "errors": []}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}/"
    connection_string = (
        "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
        f"IngestionEndpoint={endpoint};LiveEndpoint={endpoint}"
    )
    yield connection_string, received
    server.shutdown()
    thread.join(10)


def test_requests_and_logs_are_exported_to_azure_monitor(registered_model, tmp_path, ingestion):
    connection_string, received = ingestion
    with run_service(
        registered_model.workspace,
        mlops_datastore_uri=str(tmp_path / "datastore"),
        applicationinsights_connection_string=connection_string,
    ) as running:
        response = requests.post(
            f"{running.url}/score", json=SAMPLE, headers={"traceparent": TRACEPARENT}, timeout=10
        )
        assert response.status_code == 200
        request_id = response.headers["x-request-id"]
    # Shutdown flushed the exporters.
    kinds = {item["data"]["baseType"] for item in received}
    assert {"RequestData", "MessageData"} <= kinds
    [request] = [
        item
        for item in received
        if item["data"]["baseType"] == "RequestData"
        and item["data"]["baseData"]["name"] == "POST /score"
    ]
    assert request["tags"]["ai.operation.id"] == TRACE_ID
    assert request["data"]["baseData"]["responseCode"] == "200"
    assert request["data"]["baseData"]["properties"]["scoring.request_id"] == request_id
    messages = [
        item["data"]["baseData"] for item in received if item["data"]["baseType"] == "MessageData"
    ]
    assert any(m["message"] == "POST /score 200" for m in messages)
