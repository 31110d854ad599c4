"""Batch-scoring inputs: a file, a folder of files, any fsspec URL or a dataset `NAME:VERSION`.

Everything is checked before any row is scored: the input exists, each file is
CSV or Parquet and readable, and holds the model's features as numbers or text.
Files are then read as a stream of record batches, never whole.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ml_service.batch.rows import is_numeric_or_text
from ml_service.data.datastore import is_local
from ml_service.errors import BatchInputError, DatasetNotFoundError
from ml_service.settings import Env

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_DATASET_REF = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+):(?P<version>\d+|latest)$")
# CSV blocks of 4 MB (Arrow parses each on all cores; bigger ones made memory grow with
# the file); chunks are cut from them.
_CSV_BLOCK_BYTES = 4 << 20
_PARQUET_BUFFER = 1 << 20


@dataclass(frozen=True)
class InputFile:
    """One file to score: where it is, its format and its columns (checked)."""

    uri: str
    path: str
    fs: Any = field(repr=False, compare=False)
    format: str
    size: int
    schema: pa.Schema = field(compare=False)
    rows: int | None  # known for Parquet without reading it

    def open_batches(
        self,
        features: Sequence[str],
        chunk_rows: int,
        column_types: dict[str, pa.DataType] | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """The file's rows in order, in record batches of exactly `chunk_rows` rows (last: fewer).

        CSV features are read as text and converted per row (a bad cell rejects
        its row, not the file); other CSV columns keep `column_types` when given.
        """
        with self.fs.open(self.path, "rb") as handle:
            if self.format == "parquet":
                # pre_buffer would keep every row group's bytes read so far until the
                # file closes (memory growing with the file); a read buffer instead.
                parquet = pq.ParquetFile(handle, pre_buffer=False, buffer_size=_PARQUET_BUFFER)
                yield from _exact_chunks(parquet.iter_batches(batch_size=chunk_rows), chunk_rows)
                return
            types = {name: pa.string() for name in features}
            for name, data_type in (column_types or {}).items():
                types.setdefault(name, data_type)
            reader = pacsv.open_csv(
                handle,
                read_options=pacsv.ReadOptions(block_size=_CSV_BLOCK_BYTES),
                convert_options=pacsv.ConvertOptions(column_types=types),
            )
            try:
                yield from _exact_chunks(reader, chunk_rows)
            except pa.ArrowInvalid as err:
                raise BatchInputError(f"cannot read {self.uri}: {err}") from err


def _exact_chunks(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """The batches' rows re-cut into batches of exactly `rows` rows (the last fewer).

    Readers cut where their blocks or row groups end; scoring needs cuts at fixed
    rows of the file (see `rows.SCORE_BLOCK_ROWS`). A chunk made of pieces of
    two batches is copied into one; the others are slices, not copies.
    """
    pieces: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        start = 0
        while start < batch.num_rows:
            take = min(rows - held, batch.num_rows - start)
            piece = batch.slice(start, take)
            start += take
            if not pieces and take == rows:
                yield piece
                continue
            pieces.append(piece)
            held += take
            if held == rows:
                yield _joined(pieces)
                pieces, held = [], 0
    if pieces:
        yield _joined(pieces)


def _joined(pieces: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(pieces) == 1:
        return pieces[0]
    return pa.Table.from_batches(pieces).combine_chunks().to_batches()[0]


@dataclass(frozen=True)
class InputSource:
    """What `--input` named: its files (sorted), and the dataset version when it was one."""

    text: str
    files: list[InputFile]
    dataset_ref: str | None = None
    dataset_digest: str | None = None

    @property
    def total_bytes(self) -> int:
        """The files' size together."""
        return sum(item.size for item in self.files)

    def digest(self) -> str:
        """SHA-256 of the content: a single file's bytes, or a folder's names and digests."""
        if self.dataset_digest is not None:
            return self.dataset_digest
        if len(self.files) == 1:
            return _file_digest(self.files[0])
        listing = hashlib.sha256()
        for item in self.files:
            listing.update(f"{PurePosixPath(item.path).name} {_file_digest(item)}\n".encode())
        return listing.hexdigest()


def _file_digest(item: InputFile) -> str:
    digest = hashlib.sha256()
    with item.fs.open(item.path, "rb") as handle:
        for block in iter(lambda: handle.read(4 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_input(text: str, env: Env) -> tuple[str, str | None, str | None]:
    """The URL or path `--input` names: itself, or a registered dataset version's file.

    Returns:
        The location, and the dataset `name:version` and digest when it was a dataset.

    Raises:
        BatchInputError: the dataset does not exist.
    """
    match = _DATASET_REF.match(text)
    if match and "://" not in text and not fsspec.core.url_to_fs(text)[0].exists(text):
        from ml_service.data.datasets import DatasetRegistry

        try:
            version = DatasetRegistry.from_env(env).get(match["name"], match["version"])
        except DatasetNotFoundError as err:
            raise BatchInputError(f"--input {text}: {err}") from err
        return version.uri, version.ref, version.digest
    return text, None, None


def open_source(text: str, env: Env, features: Sequence[str], score_column: str) -> InputSource:
    """Find and check every file `--input` names, reading only headers and footers.

    Raises:
        BatchInputError: missing, empty or unreadable input; a file that is not CSV or
            Parquet; a feature missing or not numeric; files whose columns differ; a
            column already named like the score column.
    """
    location, dataset_ref, dataset_digest = resolve_input(text, env)
    try:
        fs, root = fsspec.core.url_to_fs(location)
        exists = fs.exists(root)
    except (ValueError, ImportError, OSError) as err:
        raise BatchInputError(f"--input {text}: cannot open it ({err})") from err
    if not exists:
        raise BatchInputError(f"--input {text}: no such file or folder")
    if fs.isdir(root):
        paths = sorted(
            path
            for path in fs.find(root)
            if PurePosixPath(path).suffix.lower() in FORMATS
            and not PurePosixPath(path).name.startswith((".", "_"))
        )
        if not paths:
            raise BatchInputError(f"--input {text}: the folder holds no .csv or .parquet file")
    else:
        paths = [root]
    files = [_inspect(fs, path, features, score_column) for path in paths]
    first = files[0]
    for other in files[1:]:
        if other.schema.names != first.schema.names:
            raise BatchInputError(
                f"--input {text}: {other.uri} has columns {', '.join(other.schema.names)} but "
                f"{first.uri} has {', '.join(first.schema.names)}; the files of a folder must "
                "have the same columns"
            )
    return InputSource(
        text=text, files=files, dataset_ref=dataset_ref, dataset_digest=dataset_digest
    )


def _inspect(fs: Any, path: str, features: Sequence[str], score_column: str) -> InputFile:
    uri = path if is_local(fs) else str(fs.unstrip_protocol(path))
    suffix = PurePosixPath(path).suffix.lower()
    file_format = FORMATS.get(suffix)
    if file_format is None:
        raise BatchInputError(
            f"--input {uri}: unknown file type {suffix or '(no extension)'}; "
            "use .csv, .parquet or .pq"
        )
    rows: int | None = None
    try:
        size = int(fs.size(path))
        with fs.open(path, "rb") as handle:
            if file_format == "parquet":
                parquet = pq.ParquetFile(handle)
                schema = parquet.schema_arrow
                rows = parquet.metadata.num_rows
            else:
                reader = pacsv.open_csv(
                    handle,
                    convert_options=pacsv.ConvertOptions(
                        column_types={name: pa.string() for name in features}
                    ),
                )
                schema = reader.schema
    except (OSError, pa.ArrowException) as err:
        raise BatchInputError(f"--input {uri}: cannot read it as {file_format}: {err}") from err
    names = schema.names
    missing = [name for name in features if name not in names]
    if missing:
        raise BatchInputError(
            f"--input {uri}: missing feature column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (the model takes {', '.join(features)})"
        )
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise BatchInputError(f"--input {uri}: column {', '.join(duplicated)} appears twice")
    for name in features:
        data_type = schema.field(name).type
        if not is_numeric_or_text(data_type):
            raise BatchInputError(
                f"--input {uri}: column {name} holds {data_type} values; the model takes numbers"
            )
    if score_column in names:
        raise BatchInputError(
            f"--input {uri}: it already has a column {score_column!r}; "
            "name the score column otherwise with --score-column"
        )
    return InputFile(
        uri=uri, path=path, fs=fs, format=file_format, size=size, schema=schema, rows=rows
    )
