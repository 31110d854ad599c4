"""Collected scoring data: what the scoring service writes for drift monitoring and retraining.

Layout, in the datastore (any fsspec URL, the one datasets live in):
`collected/<model_name>/date=YYYY-MM-DD/part-<start>-<host>-<pid>-<nonce>[-<seq>].jsonl`,
one JSON object a line per scored request (time, request id, model version,
feature names, inputs, predictions). Every writer has files of its own, so any
number of replicas share one store without ever writing the same file. On a
local disk a writer appends to one file a day; on an object store, where files
cannot be appended to, each batch becomes a file of its own. Lines are written
by one thread off the request path, batch by batch, so after a crash a file
ends at most in one partial line, which the readers skip.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from ml_service.data.datastore import filesystem, is_local
from ml_service.errors import CollectedDataError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

_STOP = object()
_BATCH = 512
_GATHER_SECONDS = 0.05
"""How long the writer lets records gather after the first of a batch. Writing each
record as it comes (one open, write and close per request under load) costs the
service more CPU than scoring it; one write per 50 ms costs next to nothing, and a
crash loses at most the records of that window, which were not on disk either way."""


def collected_path(datastore: str, model_name: str) -> str:
    """The folder (within the datastore's filesystem) holding a model's collected data."""
    _, root = filesystem(datastore)
    return f"{root}/collected/{model_name}"


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
        return _json_line(
            self.time.isoformat(),
            self.request_id,
            self.model_name,
            self.model_version,
            self.features,
            self.inputs,
            self.predictions,
        )


_FEATURES_JSON: dict[tuple[str, ...], orjson.Fragment] = {}
"""Each model's feature names, encoded once: a record's one constant but costly part."""


def _json_line(
    moment: str | datetime,
    request_id: str,
    model_name: str,
    model_version: str,
    features: tuple[str, ...],
    inputs: np.ndarray,
    predictions: np.ndarray,
) -> bytes:
    features = tuple(features)
    features_json = _FEATURES_JSON.get(features)
    if features_json is None:
        features_json = _FEATURES_JSON[features] = orjson.Fragment(orjson.dumps(features))
    record = {
        "time": moment,
        "request_id": request_id,
        "model_name": model_name,
        "model_version": model_version,
        "features": features_json,
        "inputs": inputs,
        "predictions": predictions,
    }
    try:
        return orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n"
    except TypeError:
        # orjson serialises only C-contiguous arrays (a column slice or a transposed
        # matrix is not one): copied into one. The copy is not made up front because
        # asking costs more than encoding a one-row request's line.
        record["inputs"] = np.ascontiguousarray(inputs)
        record["predictions"] = np.ascontiguousarray(predictions)
        return orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n"


class DataCollector:
    """Appends scored requests to the datastore from a background thread.

    `collect` serialises the record where it is called and puts the line on an
    unbounded queue, so the request never waits for the storage; `close` writes
    everything accepted before returning. The writer thread only joins lines and
    writes them: were it to serialise them too, it would hold the GIL while the
    event loop wants it back from ONNX Runtime, and each such hand-over costs
    the service more than the serialising itself.
    """

    def __init__(self, datastore: str, model_name: str) -> None:
        self._fs, root = filesystem(datastore)
        self._folder = f"{root}/collected/{model_name}"
        self._append = is_local(self._fs)
        started = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        host = socket.gethostname().replace("-", "_") or "host"
        self._writer = f"part-{started}-{host}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._batches = 0
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="data-collector", daemon=True)
        self.written = 0
        # Counted apart: the first by the callers of `collect`, the second by the writer.
        self._refused = 0
        self._write_failed = 0

    @property
    def location(self) -> str:
        """Where this collector writes, as a URL."""
        return str(self._fs.unstrip_protocol(self._folder))

    def start(self) -> None:
        """Start the writer thread; folders are created on the first write."""
        self._thread.start()

    def collect(self, record: ScoredRequest) -> None:
        """Serialise a record and queue it for writing (never blocks).

        A record that cannot be serialised is counted in `failed` and logged.
        """
        try:
            line = record.to_json_line()
        except (TypeError, orjson.JSONEncodeError) as err:
            self._unserialisable(record.request_id, err)
            return
        self._queue.put((record.time.date(), line))

    def collect_scored(
        self,
        request_id: str,
        model_name: str,
        model_version: str,
        features: tuple[str, ...],
        inputs: np.ndarray,
        predictions: np.ndarray,
    ) -> None:
        """`collect` a request scored now, without making its ScoredRequest first."""
        moment = datetime.now(UTC)
        try:
            line = _json_line(
                # orjson writes a datetime as isoformat does, in a sixth of its time.
                moment,
                request_id,
                model_name,
                model_version,
                features,
                inputs,
                predictions,
            )
        except (TypeError, orjson.JSONEncodeError) as err:
            self._unserialisable(request_id, err)
            return
        self._queue.put((moment.date(), line))

    def _unserialisable(self, request_id: str, err: Exception) -> None:
        self._refused += 1
        log.error("could not serialise collected record %s: %s", request_id, err)

    @property
    def failed(self) -> int:
        """Records collected but not written: not serialisable, or the write failed."""
        return self._refused + self._write_failed

    def close(self) -> None:
        """Write every record collected so far, then stop the writer thread."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch = [self._queue.get()]
            if batch[0] is not _STOP:
                time.sleep(_GATHER_SECONDS)
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

    def _write(self, batch: list[tuple[date, bytes]]) -> None:
        by_day: dict[date, list[bytes]] = {}
        for day, line in batch:
            by_day.setdefault(day, []).append(line)
        self._batches += 1
        for day, lines in by_day.items():
            folder = f"{self._folder}/date={day.isoformat()}"
            data = b"".join(lines)
            try:
                self._fs.makedirs(folder, exist_ok=True)
                if self._append:
                    with self._fs.open(f"{folder}/{self._writer}.jsonl", "ab") as out:
                        out.write(data)
                else:
                    self._fs.pipe_file(f"{folder}/{self._writer}-{self._batches:08d}.jsonl", data)
            except OSError as err:
                self._write_failed += len(lines)
                log.error("could not write %d collected records to %s: %s", len(lines), folder, err)
            else:
                self.written += len(lines)


def _read_file(fs: Any, path: str) -> Iterator[dict[str, Any]]:
    data: bytes = fs.cat_file(path)
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
    datastore: str, model_name: str, *, since: date | None = None, until: date | None = None
) -> list[dict[str, Any]]:
    """The collected records of a model, oldest day first, optionally within [since, until].

    Args:
        datastore: the datastore URL or folder (`data.datastore.datastore_uri`).
        model_name: the registered model's name.
        since: first day to read (inclusive); None for no lower bound.
        until: last day to read (inclusive); None for no upper bound.

    Returns:
        One dict per scored request, as written (`inputs` and `predictions` as lists).

    Raises:
        CollectedDataError: a complete line is not a JSON record.
    """
    fs, root = filesystem(datastore)
    folder = f"{root}/collected/{model_name}"
    records: list[dict[str, Any]] = []
    for day_dir in sorted(fs.glob(f"{folder}/date=*")):
        day = date.fromisoformat(day_dir.rsplit("date=", 1)[1])
        if (since and day < since) or (until and day > until):
            continue
        for path in sorted(fs.glob(f"{day_dir}/*.jsonl")):
            records.extend(_read_file(fs, path))
    return records


def collected_frame(
    datastore: str, model_name: str, *, since: date | None = None, until: date | None = None
) -> pd.DataFrame:
    """The collected data as a pandas DataFrame, one row per scored row.

    Columns: the features, `prediction`, `time`, `request_id`, `model_version`.
    """
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for record in read_collected(datastore, model_name, since=since, until=until):
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
