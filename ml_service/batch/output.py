"""Batch-scoring outputs: the scored rows and the rejects file, each appearing atomically.

Rows are written to a temporary file in the output's own folder, flushed to disk
and renamed over the final name, so a job that crashes or is killed leaves no
partial file under that name. The bytes depend only on the input, the model and
the options, so a rerun writes an identical file.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import hashlib
import os
import tempfile
import uuid
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ml_service.batch.sources import FORMATS
from ml_service.data.datastore import is_local
from ml_service.errors import BatchOutputError

REJECTS_SUFFIX = ".rejects.csv"
REJECTS_COLUMNS = ("file", "row", "reason")


def output_format(destination: str, given: str | None) -> str:
    """`--format`, else the format the output's extension names.

    Raises:
        BatchOutputError: no --format and an extension that names no format.
    """
    if os.path.isdir(destination):
        raise _folder_error(destination)
    if given:
        return given
    suffix = PurePosixPath(destination).suffix.lower()
    if suffix not in FORMATS:
        raise BatchOutputError(
            f"--output {destination}: cannot tell the format from {suffix or 'no extension'}; "
            "end it with .csv or .parquet, or pass --format"
        )
    return FORMATS[suffix]


def _folder_error(destination: str) -> BatchOutputError:
    return BatchOutputError(
        f"--output {destination} is a folder; give a file name such as "
        f"{destination.rstrip('/')}/scores.parquet"
    )


def rejects_location(destination: str) -> str:
    """Where the rejects of an output go: beside it, `NAME.rejects.csv`."""
    parent, _, name = destination.rpartition("/")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{parent}/{stem}{REJECTS_SUFFIX}" if parent else f"{stem}{REJECTS_SUFFIX}"


@dataclass
class AtomicFile:
    """A file written under a temporary name and published under its final one, or removed.

    Local outputs are written in their own folder and renamed (atomic on POSIX);
    other fsspec outputs are written locally, uploaded under a temporary name and
    moved, as the datastore does.
    """

    destination: str
    fs: Any = field(repr=False)
    path: str
    temp: Path = field(init=False)

    @classmethod
    def create(cls, destination: str) -> AtomicFile:
        """Check the destination is writable by creating the temporary file now.

        Raises:
            BatchOutputError: a folder, or a place this process cannot write.
        """
        try:
            fs, path = fsspec.core.url_to_fs(destination)
        except (ValueError, ImportError) as err:
            raise BatchOutputError(f"--output {destination}: {err}") from err
        atomic = cls(destination=destination, fs=fs, path=path)
        try:
            if fs.isdir(path):
                raise _folder_error(destination)
            if is_local(fs):
                folder = Path(path).parent
                folder.mkdir(parents=True, exist_ok=True)
                handle, name = tempfile.mkstemp(prefix=f".{Path(path).name}.", dir=folder)
            else:
                parent = path.rpartition("/")[0]
                if parent:
                    fs.makedirs(parent, exist_ok=True)
                probe = f"{path}.probe-{uuid.uuid4().hex}"
                fs.pipe_file(probe, b"")
                fs.rm_file(probe)
                handle, name = tempfile.mkstemp(prefix="mlops-batch-")
            os.close(handle)
        except OSError as err:
            reason = err.strerror or str(err)
            raise BatchOutputError(
                f"--output {destination}: cannot write there ({reason})"
            ) from err
        atomic.temp = Path(name)
        return atomic

    def publish(self, digest: str | None = None) -> str:
        """Flush the temporary file to disk and give it the final name; its SHA-256.

        `digest`: the SHA-256 of the bytes written, when the writer computed it as
        they streamed (`RowWriter`); otherwise the file is read back to compute it.
        """
        with self.temp.open("rb") as handle:
            if digest is None:
                hashed = hashlib.sha256()
                for block in iter(lambda: handle.read(4 << 20), b""):
                    hashed.update(block)
                digest = hashed.hexdigest()
            os.fsync(handle.fileno())
        if is_local(self.fs):
            self.temp.chmod(0o644)
            os.replace(self.temp, self.path)
            _fsync_folder(Path(self.path).parent)
        else:
            partial = f"{self.path}.partial-{uuid.uuid4().hex}"
            self.fs.put_file(str(self.temp), partial)
            self.fs.mv(partial, self.path)
            self.temp.unlink()
        return digest

    def discard(self) -> None:
        """Remove the temporary file (the final name is untouched)."""
        with contextlib.suppress(FileNotFoundError):
            self.temp.unlink()


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


ROW_GROUP_ROWS = 131_072
"""Rows per Parquet row group, whatever the chunks: the file's bytes do not depend on them."""


class _HashingSink:
    """A binary file that hashes what is written to it (a sink for pyarrow's writers).

    Unbuffered, as pyarrow's own file streams are: what a writer has written is
    in the file (pyarrow buffers where it pays: CSV rows, Parquet pages).
    """

    def __init__(self, path: Path) -> None:
        self._file = path.open("wb", buffering=0)
        self._digest = hashlib.sha256()
        self._written = 0
        self.closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._digest.update(view)
        done = 0
        while done < len(view):
            wrote = self._file.write(view[done:])
            if not wrote:
                raise OSError(errno.EIO, "the file took no bytes")
            done += wrote
        self._written += done
        return done

    def tell(self) -> int:
        return self._written

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._file.close()

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


class RowWriter:
    """Writes scored record batches to a CSV or Parquet file, in one schema; hashes the bytes.

    Parquet row groups are cut at every `ROW_GROUP_ROWS` rows of the output, not
    at chunk boundaries, so `--chunk-rows` does not change the file; at most one
    row group's worth of rows waits here.

    The file's SHA-256 is computed on the bytes as they are written, so
    publishing it does not read the file back.
    """

    def __init__(self, path: Path, file_format: str, schema: pa.Schema) -> None:
        self.schema = schema
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._csv: pacsv.CSVWriter | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._digest: str | None = None
        self._sink = _HashingSink(path)
        try:
            if file_format == "csv":
                self._csv = pacsv.CSVWriter(
                    self._sink, schema, write_options=pacsv.WriteOptions(quoting_style="needed")
                )
            else:
                # Floats are written plain: dictionary-encoding a column of measurements
                # costs five times the write and rarely saves space; other columns
                # (identifiers, categories) keep it.
                self._parquet = pq.ParquetWriter(
                    self._sink,
                    schema,
                    use_dictionary=[f.name for f in schema if not pa.types.is_floating(f.type)],
                )
        except BaseException:
            self._sink.close()
            raise

    def write(self, batch: pa.RecordBatch) -> None:
        """Append a batch (cast to the output schema)."""
        if batch.schema != self.schema:
            batch = batch.cast(self.schema)
        if self._csv is not None:
            self._csv.write_batch(batch)
            return
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        if self._pending_rows >= ROW_GROUP_ROWS:
            self._flush(whole_groups_only=True)

    def _flush(self, whole_groups_only: bool) -> None:
        assert self._parquet is not None
        table = pa.Table.from_batches(self._pending, schema=self.schema)
        ready = table.num_rows
        if whole_groups_only:
            ready -= ready % ROW_GROUP_ROWS
        for start in range(0, ready, ROW_GROUP_ROWS):
            group = table.slice(start, min(ROW_GROUP_ROWS, ready - start)).combine_chunks()
            self._parquet.write_table(group, row_group_size=ROW_GROUP_ROWS)
        rest = table.slice(ready)
        self._pending = rest.combine_chunks().to_batches() if rest.num_rows else []
        self._pending_rows = rest.num_rows

    def close(self) -> None:
        """Finish the file (Parquet writes its last row group and footer here)."""
        try:
            if self._csv is not None:
                self._csv.close()
            elif self._parquet is not None:
                if self._pending_rows:
                    self._flush(whole_groups_only=False)
                self._parquet.close()
        finally:
            self._sink.close()
        self._digest = self._sink.hexdigest()

    @property
    def digest(self) -> str:
        """SHA-256 of the file's bytes, once closed."""
        if self._digest is None:
            raise RuntimeError("the file is not finished yet")
        return self._digest


class WriteBehind:
    """Writes batches on a thread of its own, in order, so reading and writing overlap.

    At most `depth` batches wait; a write's error is raised by a later `write` or by `close`.
    """

    def __init__(self, writer: RowWriter, depth: int = 2) -> None:
        self._writer = writer
        self._depth = depth
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-write")
        self._pending: deque[Future[None]] = deque()

    def write(self, batch: pa.RecordBatch) -> None:
        """Queue a batch, waiting while `depth` batches are already queued."""
        self._pending.append(self._thread.submit(self._writer.write, batch))
        while len(self._pending) > self._depth:
            self._pending.popleft().result()

    def close(self, cancel: bool = False) -> None:
        """Finish the queued writes (or drop them when `cancel`), then the file."""
        try:
            self._thread.shutdown(wait=True, cancel_futures=cancel)
            if not cancel:
                for future in self._pending:
                    future.result()
        finally:
            self._pending.clear()
            if cancel:  # the job failed: its error matters, not the half-written file's
                with contextlib.suppress(Exception):
                    self._writer.close()
            else:
                self._writer.close()


class RejectsWriter:
    """Writes the rejected rows' file, row number and reason as CSV."""

    def __init__(self, path: Path) -> None:
        self._handle = path.open("w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._handle, lineterminator="\n")
        self._csv.writerow(REJECTS_COLUMNS)
        self.count = 0

    def write(self, file: str, rows: list[int], reasons: list[str]) -> None:
        """Record rejected rows of `file` (1-based data row numbers)."""
        self._csv.writerows(zip([file] * len(rows), rows, reasons, strict=True))
        self.count += len(rows)

    def close(self) -> None:
        """Flush and close the file."""
        self._handle.close()
