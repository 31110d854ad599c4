"""The access log's direct writer: the same lines as `logging` writes, in batches, when safe."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from ml_service.serving import telemetry
from ml_service.serving.metrics import ServiceMetrics
from ml_service.serving.middleware import ServiceMiddleware
from ml_service.serving.telemetry import (
    ACCESS_LOGGER,
    JsonFormatter,
    JsonLogHandler,
    Telemetry,
    direct_access_handler,
)

FIELDS = {
    "request_id": "req-1",
    "traceparent": None,
    "model_version": "3",
    "route": "/score",
    "status": 200,
    "rows": 2,
    "latency_ms": 0.123,
}


@contextmanager
def json_root() -> Iterator[io.StringIO]:
    """The root logger set up as `mlops serve` sets it up, writing to a string.

    Entered in the test itself: pytest adds its capturing handlers to the root
    logger once the test has started. Records are made the standard way for the
    block, whatever a library imported by an earlier test in this process set up
    (opencensus, imported with azure-ai-ml, can install its own logger class).
    """
    root = logging.getLogger()
    access = logging.getLogger(ACCESS_LOGGER)
    saved = root.handlers[:], root.level, logging.getLogRecordFactory(), type(access)
    stream = io.StringIO()
    root.handlers[:] = [JsonLogHandler(stream)]
    root.setLevel(logging.INFO)
    logging.setLogRecordFactory(logging.LogRecord)
    access.__class__ = logging.Logger
    try:
        yield stream
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.setLogRecordFactory(saved[2])
        access.__class__ = saved[3]


class _TracingLogger(logging.Logger):
    """A logger class that adds fields to every record, as opencensus' does."""

    def makeRecord(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        record = super().makeRecord(*args, **kwargs)
        record.traceId = "0" * 32
        return record


def test_a_line_is_what_the_formatter_makes_of_the_same_record():
    formatter = JsonFormatter()
    record = logging.getLogger(ACCESS_LOGGER).makeRecord(
        ACCESS_LOGGER, logging.INFO, __file__, 1, "%s %s %d", ("POST", "/score", 200), None,
        extra=FIELDS,
    )  # fmt: skip
    direct = formatter.line(record.created, "INFO", ACCESS_LOGGER, "POST /score 200", FIELDS)
    assert direct == formatter.format(record)
    assert list(json.loads(direct)) == ["time", "level", "logger", "message", *FIELDS]


def test_the_default_set_up_writes_directly():
    with json_root():
        access = logging.getLogger(ACCESS_LOGGER)
        assert direct_access_handler(access) is logging.getLogger().handlers[0]


@pytest.mark.parametrize(
    "change",
    [
        "extra root handler",
        "handler on the service logger",
        "access level",
        "root level",
        "access filter",
        "handler filter",
        "handler level",
        "not propagated",
        "disabled",
        "other formatter",
        "record factory",
        "logger class",
    ],
)
def test_any_other_set_up_goes_through_logging(change):
    with json_root():
        access = logging.getLogger(ACCESS_LOGGER)
        service = logging.getLogger(telemetry.SERVICE_LOGGER)
        root = logging.getLogger()
        handler = root.handlers[0]
        extra = logging.NullHandler()
        undo = []
        if change == "extra root handler":  # what pytest's caplog does
            root.addHandler(extra)
            undo.append(lambda: root.removeHandler(extra))
        elif change == "handler on the service logger":  # what the Azure Monitor exporter does
            service.addHandler(extra)
            undo.append(lambda: service.removeHandler(extra))
        elif change == "access level":
            access.setLevel(logging.WARNING)
            undo.append(lambda: access.setLevel(logging.NOTSET))
        elif change == "root level":
            root.setLevel(logging.WARNING)
        elif change == "access filter":
            access.addFilter(lambda _: False)
            undo.append(lambda: access.filters.clear())
        elif change == "handler filter":
            handler.addFilter(lambda _: False)
        elif change == "handler level":
            handler.setLevel(logging.WARNING)
        elif change == "not propagated":
            access.propagate = False
            undo.append(lambda: setattr(access, "propagate", True))
        elif change == "disabled":
            access.disabled = True
            undo.append(lambda: setattr(access, "disabled", False))
        elif change == "other formatter":
            handler.setFormatter(logging.Formatter())
        elif change == "record factory":  # e.g. OpenTelemetry's logging instrumentation
            logging.setLogRecordFactory(lambda *a, **k: logging.LogRecord(*a, **k))
        elif change == "logger class":  # e.g. opencensus' TraceLogger
            access.__class__ = _TracingLogger
        try:
            assert direct_access_handler(access) is None
        finally:
            for step in undo:
                step()


def test_buffered_lines_are_written_before_the_next_record_and_on_flush():
    stream = io.StringIO()
    handler = JsonLogHandler(stream)
    handler.write_line('{"n":1}')  # no event loop: written at once
    assert stream.getvalue() == '{"n":1}\n'

    async def serve() -> None:
        handler.write_line('{"n":2}')
        handler.write_line('{"n":3}')
        assert stream.getvalue() == '{"n":1}\n'  # buffered
        handler.handle(logging.makeLogRecord({"name": "x", "msg": "later"}))
        lines = stream.getvalue().splitlines()
        assert lines[:3] == ['{"n":1}', '{"n":2}', '{"n":3}']
        assert json.loads(lines[3])["message"] == "later"
        handler.write_line('{"n":4}')
        await asyncio.sleep(telemetry.ACCESS_FLUSH_SECONDS * 3)
        assert stream.getvalue().splitlines()[-1] == '{"n":4}'  # the timer wrote it
        handler.write_line('{"n":5}')

    asyncio.run(serve())
    assert stream.getvalue().splitlines()[-1] != '{"n":5}'
    handler.flush()  # what logging.shutdown does at exit
    assert stream.getvalue().splitlines()[-1] == '{"n":5}'


def test_a_full_buffer_is_written_without_waiting():
    stream = io.StringIO()
    handler = JsonLogHandler(stream)

    async def serve() -> None:
        for n in range(telemetry.ACCESS_BUFFER_LINES):
            handler.write_line(str(n))
        assert len(stream.getvalue().splitlines()) == telemetry.ACCESS_BUFFER_LINES

    asyncio.run(serve())


def _call(app: ServiceMiddleware, request_id: str) -> None:
    async def inner(scope, receive, send) -> None:
        scope["state"]["rows"] = 2
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_: dict) -> None:
        return None

    app.app = inner
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/score",
        "headers": [(b"x-request-id", request_id.encode()), (b"traceparent", b"bad")],
    }

    async def run() -> None:
        await app(scope, receive, send)

    asyncio.run(run())


def test_the_middleware_writes_the_line_logging_would():
    app = ServiceMiddleware(
        None,  # type: ignore[arg-type]
        model_name="m",
        model_version="3",
        max_body_bytes=1000,
        metrics=ServiceMetrics("m", "3", "models:/m/3"),
        telemetry=Telemetry(),
    )
    with json_root() as stream:
        _call(app, "direct")
        root = logging.getLogger()
        second = io.StringIO()
        through_logging = logging.StreamHandler(second)
        through_logging.setFormatter(JsonFormatter())
        root.addHandler(through_logging)  # two handlers: the records go through logging
        try:
            _call(app, "logged")
        finally:
            root.removeHandler(through_logging)
        root.handlers[0].flush()
    direct, logged = (json.loads(line) for line in stream.getvalue().splitlines())
    assert json.loads(second.getvalue()) == logged
    assert list(direct) == list(logged)
    for entry in (direct, logged):
        entry.pop("time")
        assert entry.pop("latency_ms") >= 0
    assert direct == {**logged, "request_id": "direct"}
    assert logged["request_id"] == "logged"
    assert logged["message"] == "POST /score 200"
