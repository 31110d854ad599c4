"""Structured JSON logs and OpenTelemetry traces of the scoring service.

Without APPLICATIONINSIGHTS_CONNECTION_STRING nothing leaves the machine: logs go
to stderr as JSON lines and no tracer is set up. With it, every request becomes
an OpenTelemetry server span (child of the caller's W3C `traceparent`) and the
service's log records are exported too, both to Azure Monitor (Application
Insights) through its OpenTelemetry exporter.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

ACCESS_LOGGER = "ml_service.serving.access"
SERVICE_LOGGER = "ml_service.serving"

_EXPORTER_SELF_TELEMETRY = (
    "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL",
    "APPLICATIONINSIGHTS_SDKSTATS_DISABLED",
    "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED",
)
_TRACEPARENT = re.compile(
    r"^[0-9a-f]{2}-(?P<trace>[0-9a-f]{32})-(?P<span>[0-9a-f]{16})-[0-9a-f]{2}$"
)
# Standard LogRecord attributes, and uvicorn's ANSI-coloured copy of its message.
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


def parse_traceparent(value: str | None) -> str | None:
    """A W3C traceparent header if well formed (and not all-zero ids), else None."""
    if not value:
        return None
    value = value.strip().lower()
    match = _TRACEPARENT.match(value)
    if not match or set(match["trace"]) == {"0"} or set(match["span"]) == {"0"}:
        return None
    return value


_MILLISECONDS = tuple(f".{n:03d}+00:00" for n in range(1000))
"""What follows the second in a log line's time, by millisecond (formatting it costs more)."""


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message and the record's extra fields."""

    _second: tuple[int, str] = (-1, "")

    def _time(self, created: float) -> str:
        # The access log formats a record per request: the date and time of day are
        # formatted once per second, the milliseconds appended (as isoformat would).
        fraction, whole = math.modf(created)
        micros, second = round(fraction * 1e6), int(whole)  # rounded as datetime rounds it
        if micros >= 1_000_000:
            micros, second = micros - 1_000_000, second + 1
        cached_second, prefix = self._second
        if second != cached_second:
            prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = (second, prefix)
        return prefix + _MILLISECONDS[micros // 1000]

    def format(self, record: logging.LogRecord) -> str:
        fields = {
            key: value
            for key, value in record.__dict__.items()
            if key not in _RESERVED and not key.startswith("_")
        }
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        return self.line(record.created, record.levelname, record.name, record.getMessage(), fields)

    def line(
        self, created: float, level: str, logger: str, message: str, fields: dict[str, Any]
    ) -> str:
        """The JSON line of a record made at `created` with these extra fields (no newline)."""
        entry: dict[str, Any] = {
            "time": self._time(created),
            "level": level,
            "logger": logger,
            "message": message,
            **fields,
        }
        return orjson.dumps(entry, default=str).decode()


ACCESS_FLUSH_SECONDS = 0.05
"""How long an access line may wait in `JsonLogHandler`'s buffer before it is written."""
ACCESS_BUFFER_LINES = 256
"""Buffered access lines that are written at once, without waiting."""


class JsonLogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The service's log handler: JSON lines to a stream, access lines written in batches.

    Records go through `logging` as usual and are written at once. The access
    log's lines, one per request, can also be handed over ready-made
    (`write_line`): they are buffered and written together, after at most
    `ACCESS_FLUSH_SECONDS` or `ACCESS_BUFFER_LINES` lines, before any other
    record, and when the handler is flushed (as `logging` does at exit), so the
    stream holds the same lines in the same order as if each had been logged.
    """

    def __init__(self, stream: Any = None) -> None:
        super().__init__(stream)
        self.setFormatter(JsonFormatter())
        self._pending: list[str] = []

    def write_line(self, line: str) -> None:
        """Write one formatted line (without its newline) soon, in a batch with others."""
        with self.lock:  # type: ignore[union-attr]
            self._pending.append(line + self.terminator)
            count = len(self._pending)
        if count >= ACCESS_BUFFER_LINES:
            self.flush()
        elif count == 1:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
            else:
                loop.call_later(ACCESS_FLUSH_SECONDS, self.flush)

    def _write_pending(self) -> None:
        # Called with the handler's lock held.
        pending, self._pending = self._pending, []
        if pending:
            try:
                self.stream.write("".join(pending))
            except RecursionError:
                raise
            except Exception:
                self.handleError(
                    logging.makeLogRecord(
                        {"name": ACCESS_LOGGER, "msg": "%d access lines", "args": (len(pending),)}
                    )
                )

    def emit(self, record: logging.LogRecord) -> None:
        """Write the buffered lines, then the record."""
        if self._pending:
            self._write_pending()
        super().emit(record)

    def flush(self) -> None:
        """Write the buffered lines and flush the stream."""
        with self.lock:  # type: ignore[union-attr]
            self._write_pending()
            super().flush()


def direct_access_handler(logger: logging.Logger) -> JsonLogHandler | None:
    """The handler to hand the access log's lines to directly, or None to log them.

    That is when `logger.info` would do nothing else than have one
    `JsonLogHandler` format the record with its `JsonFormatter` and write it:
    the logger is enabled for INFO and filters nothing, and the only handler on
    its way up is that one, without filters, and records are made the standard
    way (the default record factory and logger class: a library such as
    opencensus may install its own, adding trace fields to every record). Any
    other set-up (a handler added for tests or an exporter, a filter, another
    level, another record factory) goes through `logging`.
    """
    if logger.disabled or logger.filters or not logger.isEnabledFor(logging.INFO):
        return None
    if (
        logging.getLogRecordFactory() is not logging.LogRecord
        or type(logger).makeRecord is not logging.Logger.makeRecord
    ):
        return None
    found: JsonLogHandler | None = None
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if (
                found is not None
                or type(handler) is not JsonLogHandler
                or handler.filters
                or handler.level > logging.INFO
                or type(handler.formatter) is not JsonFormatter
            ):
                return None
            found = handler
        if not current.propagate:
            break
        current = current.parent
    return found


def configure_json_logging(level: int = logging.INFO) -> None:
    """Send every log record (uvicorn's included) to stderr as JSON lines."""
    handler = JsonLogHandler(sys.stderr)
    root = logging.getLogger()
    for old in list(root.handlers):
        old.flush()
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


@dataclass
class Telemetry:
    """The tracer requests are traced with (None: tracing off) and how to flush it at exit."""

    tracer: Any = None
    shutdown_hooks: list[Callable[[], None]] = field(default_factory=list)

    def shutdown(self) -> None:
        """Flush and stop the exporters."""
        for hook in self.shutdown_hooks:
            hook()
        self.shutdown_hooks.clear()


def configure_telemetry(connection_string: str | None, *, service_name: str) -> Telemetry:
    """Export traces and logs to Azure Monitor when a connection string is given.

    Args:
        connection_string: Application Insights connection string, or None to keep
            everything local.
        service_name: the `service.name` resource attribute (shows as the cloud role).

    Returns:
        The Telemetry to hand to the app; without a connection string, tracing is off.
    """
    if not connection_string:
        return Telemetry()
    # The exporter's own usage statistics and control-plane calls would go to Microsoft's
    # endpoints rather than the configured one; only the service's telemetry is sent.
    for variable in _EXPORTER_SELF_TELEMETRY:
        os.environ.setdefault(variable, "true")
    from azure.monitor.opentelemetry.exporter import (
        AzureMonitorLogExporter,
        AzureMonitorTraceExporter,
    )
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": service_name})
    exporter_options = {"connection_string": connection_string, "disable_offline_storage": True}
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(
            AzureMonitorTraceExporter(tracer_provider=tracer_provider, **exporter_options)
        )
    )
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        BatchLogRecordProcessor(AzureMonitorLogExporter(**exporter_options))
    )
    handler = LoggingHandler(level=logging.INFO, logger_provider=logger_provider)
    service_logger = logging.getLogger(SERVICE_LOGGER)
    service_logger.addHandler(handler)
    # The access log is at INFO; export it whatever level the root logger has.
    saved_level = service_logger.level
    service_logger.setLevel(logging.INFO)

    def shutdown() -> None:
        service_logger.removeHandler(handler)
        service_logger.setLevel(saved_level)
        tracer_provider.shutdown()
        logger_provider.shutdown()

    logging.getLogger(__name__).info("sending traces and logs to Azure Monitor")
    return Telemetry(tracer=tracer_provider.get_tracer(SERVICE_LOGGER), shutdown_hooks=[shutdown])
