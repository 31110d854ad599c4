"""Collected scoring data: what the scoring service writes for drift monitoring and retraining.

Layout: `<datastore>/collected/<model_name>/date=YYYY-MM-DD/part-<start>-<pid>.jsonl`,
one JSON object a line per scored request (time, request id, model version,
feature names, inputs, predictions). Lines are appended by one writer thread
off the request path and flushed batch by batch, so after a crash a file ends
at most in one partial line, which the readers skip.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ml_service.errors import CollectedDataError, SettingsError
from ml_service.util.env_variables import Env

log = logging.getLogger(__name__)

_STOP = object()
_BATCH = 512


def datastore_root(env: Env) -> Path:
    """The local datastore folder: MLOPS_DATASTORE_URI (a folder or file:// URL) or `datastore/`.

    Raises:
        SettingsError: MLOPS_DATASTORE_URI names a remote store, which collection cannot append to.
    """
    uri = env.mlops_datastore_uri
    if not uri:
        return env.workspace / "datastore"
    if uri.startswith("file://"):
        return Path(uri[len("file://") :])
    if "://" in uri:
        raise SettingsError(
            f"MLOPS_DATASTORE_URI: data collection appends to a local folder, got {uri!r}; "
            "set SCORING_COLLECT_DATA=false or use a local datastore"
        )
    return Path(uri).expanduser().resolve()


def collected_dir(root: Path, model_name: str) -> Path:
    """The folder holding a model's collected data."""
    return root / "collected" / model_name


@dataclass(frozen=True)
class ScoredRequest:
    """One scored request as collected: inputs, predictions and where they came from."""

    time: datetime
    request_id: str
    model_name: str
    model_version: str
    features: tuple[str, ...]
    inputs: np.ndarray
    predictions: np.ndarray

    def to_json_line(self) -> bytes:
        """The record as one line of JSON (with its newline)."""
        return (
            orjson.dumps(
                {
                    "time": self.time.isoformat(),
                    "request_id": self.request_id,
                    "model_name": self.model_name,
                    "model_version": self.model_version,
                    "features": self.features,
                    "inputs": self.inputs,
                    "predictions": self.predictions,
                },
                option=orjson.OPT_SERIALIZE_NUMPY,
            )
            + b"\n"
        )


class DataCollector:
    """Appends scored requests to the datastore from a background thread.

    `collect` only puts the record on an unbounded queue, so the request never
    waits for the disk; `close` writes everything accepted before returning.
    """

    def __init__(self, root: Path, model_name: str) -> None:
        self._folder = collected_dir(root, model_name)
        started = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        self._file_name = f"part-{started}-{os.getpid()}.jsonl"
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="data-collector", daemon=True)
        self.written = 0
        self.failed = 0

    def start(self) -> None:
        """Start the writer thread; the folder is created on the first write."""
        self._thread.start()

    def collect(self, record: ScoredRequest) -> None:
        """Queue a record for writing (never blocks)."""
        self._queue.put(record)

    def close(self) -> None:
        """Write every record collected so far, then stop the writer thread."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch = [self._queue.get()]
            while len(batch) < _BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if batch[-1] is _STOP:
                batch.pop()
                stopping = True
            if batch:
                self._write(batch)

    def _write(self, batch: list[ScoredRequest]) -> None:
        by_day: dict[date, list[bytes]] = {}
        for record in batch:
            by_day.setdefault(record.time.date(), []).append(record.to_json_line())
        for day, lines in by_day.items():
            path = self._folder / f"date={day.isoformat()}" / self._file_name
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("ab") as out:
                    out.write(b"".join(lines))
            except OSError as err:
                self.failed += len(lines)
                log.error("could not write %d collected records to %s: %s", len(lines), path, err)
            else:
                self.written += len(lines)


def _read_file(path: Path) -> Iterator[dict[str, Any]]:
    data = path.read_bytes()
    lines = data.split(b"\n")
    # The last element is empty when the file ends in a newline; otherwise it is a
    # record cut short by a crash, which is skipped.
    if lines[-1]:
        log.warning("skipping a partial record at the end of %s", path)
    for number, line in enumerate(lines[:-1], start=1):
        try:
            yield orjson.loads(line)
        except orjson.JSONDecodeError as err:
            raise CollectedDataError(f"{path}, line {number}: not a JSON record") from err


def read_collected(
    root: Path, model_name: str, *, since: date | None = None, until: date | None = None
) -> list[dict[str, Any]]:
    """The collected records of a model, oldest day first, optionally within [since, until].

    Args:
        root: the datastore folder (see `datastore_root`).
        model_name: the registered model's name.
        since: first day to read (inclusive); None for no lower bound.
        until: last day to read (inclusive); None for no upper bound.

    Returns:
        One dict per scored request, as written (`inputs` and `predictions` as lists).

    Raises:
        CollectedDataError: a complete line is not a JSON record.
    """
    folder = collected_dir(root, model_name)
    records: list[dict[str, Any]] = []
    for day_dir in sorted(folder.glob("date=*")):
        day = date.fromisoformat(day_dir.name[len("date=") :])
        if (since and day < since) or (until and day > until):
            continue
        for path in sorted(day_dir.glob("*.jsonl")):
            records.extend(_read_file(path))
    return records


def collected_frame(
    root: Path, model_name: str, *, since: date | None = None, until: date | None = None
):
    """The collected data as a pandas DataFrame, one row per scored row.

    Columns: the features, `prediction`, `time`, `request_id`, `model_version`.
    """
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for record in read_collected(root, model_name, since=since, until=until):
        for values, prediction in zip(record["inputs"], record["predictions"], strict=True):
            row = dict(zip(record["features"], values, strict=True))
            row.update(
                prediction=prediction,
                time=record["time"],
                request_id=record["request_id"],
                model_version=record["model_version"],
            )
            rows.append(row)
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["time"] = pd.to_datetime(frame["time"])
    return frame
