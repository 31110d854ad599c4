"""Traceparent parsing and the JSON log format."""

from __future__ import annotations

import json
import logging

import pytest

from ml_service.serving.telemetry import (
    JsonFormatter,
    configure_json_logging,
    configure_telemetry,
    parse_traceparent,
)

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.mark.parametrize(
    ("header", "kept"),
    [
        (VALID, VALID),
        (VALID.upper(), VALID),
        (None, None),
        ("", None),
        ("garbage", None),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", None),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", None),
        (VALID + "-extra", None),
    ],
)
def test_parse_traceparent(header, kept):
    assert parse_traceparent(header) == kept


def test_json_formatter_writes_one_object_with_extra_fields():
    record = logging.makeLogRecord(
        {
            "name": "x",
            "levelname": "INFO",
            "msg": "hello %s",
            "args": ("you",),
            "rows": 3,
            "color_message": "ignored",
        }
    )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "hello you"
    assert entry["rows"] == 3
    assert "color_message" not in entry
    assert {"time", "level", "logger"} <= set(entry)


def test_json_formatter_includes_exceptions():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "failed", (), exc_info=__import__("sys").exc_info()
        )
    assert "ValueError: boom" in json.loads(JsonFormatter().format(record))["exception"]


def test_configure_json_logging_replaces_root_handlers():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_json_logging(logging.WARNING)
        assert len(root.handlers) == 1
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
        assert root.level == logging.WARNING
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_without_connection_string_nothing_is_exported():
    telemetry = configure_telemetry(None, service_name="m")
    assert telemetry.tracer is None
    telemetry.shutdown()


@pytest.mark.parametrize(
    "created",
    [
        1_700_000_000.0,
        1_700_000_000.9994999,
        1_700_000_000.9995,
        1_700_000_000.9999996,  # rounds up into the next second
        1_796_709_884.2249994,
        1_796_709_884.2250004,
        0.0004,
    ],
)
def test_log_time_is_what_isoformat_gives(created):
    from datetime import UTC, datetime

    formatter = JsonFormatter()
    expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    formatter.format(logging.makeLogRecord({"msg": "warm", "created": created - 5}))
    record = logging.makeLogRecord({"msg": "x", "created": created})
    assert json.loads(formatter.format(record))["time"] == expected
    assert json.loads(formatter.format(record))["time"] == expected  # from the cache
