"""A batch-scoring job, top to bottom: check everything, stream, score, write, record.

Every check (model, input, schema, output) happens before the first row is
scored, so a mistake is one error and leaves nothing behind. The tracking store
is opened by a child process meanwhile (`recorder`); the output is published
only once it is open.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from ml_service.batch.output import (
    AtomicFile,
    RejectsWriter,
    RowWriter,
    WriteBehind,
    output_format,
    rejects_location,
)
from ml_service.batch.pool import ChunkScorer
from ml_service.batch.recorder import Recorder, start_recorder
from ml_service.batch.result import BatchRequest, BatchResult
from ml_service.batch.rows import ScoredChunk, aligned_chunk_rows, score_rows
from ml_service.batch.sources import InputFile, InputSource, open_source
from ml_service.batch.threshold import ErrorThreshold, parse_threshold
from ml_service.errors import (
    BatchInputError,
    BatchOutputError,
    BatchScoringError,
    MlopsError,
    RejectThresholdError,
)
from ml_service.models.load import LoadedModel, load_model
from ml_service.models.resolve import ResolvedModel, default_model_uri, resolve_model_uri
from ml_service.settings import Env

log = logging.getLogger(__name__)


@dataclass
class _Plan:
    """Everything checked: ready to score."""

    resolved: ResolvedModel
    model: LoadedModel
    source: InputSource
    output_format: str
    output: AtomicFile
    rejects: AtomicFile
    threshold: ErrorThreshold
    workers: int


def run_batch(request: BatchRequest, env: Env, recorder: Recorder | None = None) -> BatchResult:
    """Score `request.input` with the model into `request.output`, and record the job.

    With `request.track` the job is logged to MLflow (`recorder`): straight into
    the embedded SQLite store, or by a child process started here, unless the
    caller started it earlier, so that opening the tracking store overlaps the
    checks and the scoring. The output is published only once the store is open.

    Raises:
        ModelLoadError: the model cannot be found or loaded.
        BatchInputError: the input is missing, unreadable or does not fit the model.
        BatchOutputError: the output cannot be written.
        BatchScoringError: the model failed on a chunk of rows.
        RejectThresholdError: more rows were rejected than the threshold allows (the
            rejects file is written, the output is not).
        TrackingUnavailableError: the job could not be recorded in the tracking store.
    """
    if recorder is None and request.track:
        recorder = start_recorder(env)
    try:
        return _run(request, env, recorder)
    finally:
        if recorder is not None:
            recorder.close()


def _run(request: BatchRequest, env: Env, recorder: Recorder | None) -> BatchResult:
    plan = _check(request, env)
    started_ms = int(time.time() * 1000)
    started = time.perf_counter()
    try:
        scored, rejected, digest_in, digest_out = _score(plan, request, recorder)
        if recorder is not None:
            recorder.wait_open()  # a job that cannot be recorded publishes nothing
    except BaseException:
        plan.output.discard()
        plan.rejects.discard()
        raise
    plan.rejects.publish()
    total = scored + rejected
    if plan.threshold.exceeded(rejected, total):
        plan.output.discard()
        raise RejectThresholdError(
            f"{rejected} of {total} rows rejected, more than --error-threshold "
            f"{plan.threshold} allows; no output written; the rejected rows and why: "
            f"{plan.rejects.destination}"
        )
    try:
        output_digest = plan.output.publish(digest_out)
    except BaseException:
        plan.output.discard()
        raise
    seconds = time.perf_counter() - started
    result = BatchResult(
        model_uri=plan.resolved.uri,
        model_name=plan.model.name,
        model_version=plan.model.version,
        input=request.input,
        input_digest=digest_in,
        dataset_ref=plan.source.dataset_ref,
        output=plan.output.destination,
        output_digest=output_digest,
        rejects=plan.rejects.destination,
        rows_scored=scored,
        rows_rejected=rejected,
        seconds=seconds,
        workers=plan.workers,
    )
    if recorder is not None:
        run_id = recorder.record(result, request, str(plan.threshold), started_ms)
        result = dataclasses.replace(result, run_id=run_id)
    return result


def _check(request: BatchRequest, env: Env) -> _Plan:
    threshold = parse_threshold(request.error_threshold)
    if not request.score_column.strip():
        raise BatchInputError("--score-column: give a column name")
    if request.chunk_rows < 1:
        raise BatchInputError("--chunk-rows: give a number of rows from 1")
    workers = request.workers or os.cpu_count() or 1
    if workers < 1:
        raise BatchInputError("--workers: give a number of threads from 1")
    file_format = output_format(request.output, request.format)
    uri = request.model_uri or default_model_uri(env)
    resolved = resolve_model_uri(uri, env)
    model = load_model(resolved)
    source = open_source(request.input, env, model.features, request.score_column)
    for item in source.files:
        if _same_file(item, request.output):
            raise BatchOutputError(
                f"--output {request.output} is the input file; write the scores elsewhere"
            )
    output = AtomicFile.create(request.output)
    try:
        rejects = AtomicFile.create(rejects_location(request.output))
    except BaseException:
        output.discard()
        raise
    return _Plan(
        resolved=resolved,
        model=model,
        source=source,
        output_format=file_format,
        output=output,
        rejects=rejects,
        threshold=threshold,
        workers=workers,
    )


def _same_file(item: InputFile, destination: str) -> bool:
    try:
        return os.path.samefile(item.path, destination)
    except (OSError, TypeError):
        return False


def output_schema(source: InputSource, features: tuple[str, ...], score_column: str) -> pa.Schema:
    """The input's columns (features as float64) and the score column, last."""
    first = source.files[0].schema
    fields = [
        pa.field(name, pa.float64()) if name in features else first.field(name).with_nullable(True)
        for name in first.names
    ]
    return pa.schema([*fields, pa.field(score_column, pa.float64())])


class _ChunkFailed(Exception):
    """A scoring thread's unexpected error, with the size of the chunk it failed on."""

    def __init__(self, rows: int, error: Exception) -> None:
        super().__init__(rows, error)
        self.rows = rows
        self.error = error


def _score(
    plan: _Plan, request: BatchRequest, recorder: Recorder | None
) -> tuple[int, int, str, str]:
    """Stream every file through the workers into the temporary outputs.

    Returns the rows scored and rejected, and the input's and the output's SHA-256.

    An error on another thread (scoring, writing, hashing the input) is raised
    here as one of the job's errors, naming what failed, not as a traceback.
    """
    features = plan.model.features
    schema = output_schema(plan.source, features, request.score_column)
    passthrough = {
        name: schema.field(name).type for name in schema.names[:-1] if name not in features
    }
    # The input's digest is computed in a thread while the rows stream (hashlib
    # releases the GIL), so it costs a second core, not a second pass's time.
    from concurrent.futures import ThreadPoolExecutor

    digests = ThreadPoolExecutor(max_workers=1)
    digest_future = digests.submit(plan.source.digest)
    scorer = ChunkScorer(plan.workers)
    rows_out = RowWriter(plan.output.temp, plan.output_format, schema)
    writer = WriteBehind(rows_out)
    rejects = RejectsWriter(plan.rejects.temp)
    progress = _progress(plan.source) if request.progress else None
    predict = plan.model.predict

    def score(batch: pa.RecordBatch) -> tuple[pa.RecordBatch, ScoredChunk]:
        # Runs on the scoring threads: checking, scoring and building the output
        # batch all release the GIL; only writing stays in order, on its own thread.
        try:
            chunk = score_rows(batch, features, predict)
            return _scored_batch(batch, chunk, schema, features), chunk
        except MlopsError:
            raise
        except Exception as err:
            raise _ChunkFailed(batch.num_rows, err) from err

    chunk_rows = aligned_chunk_rows(request.chunk_rows)
    scored = 0
    failed = True
    writing = True
    item = plan.source.files[0]
    first_row = 1
    try:
        for item in plan.source.files:
            first_row = 1
            batches = item.open_batches(features, chunk_rows, passthrough)
            for batch, (out, chunk) in scorer.map(score, batches):
                with _writing():
                    writer.write(out)
                    if len(chunk.rejected):
                        rows = (chunk.rejected + first_row).tolist()
                        rejects.write(item.uri, rows, chunk.reasons)
                first_row += batch.num_rows
                scored += chunk.kept
                if progress is not None:
                    progress.update(batch.num_rows)
                if recorder is not None:
                    recorder.check()  # a tracking store that cannot be opened stops the job now
        writing = False
        with _writing():
            writer.close()
        digest = digest_future.result()
        failed = False
    except _ChunkFailed as err:
        last = first_row + err.rows - 1
        raise BatchScoringError(
            f"scoring rows {first_row}-{last} of {item.uri} failed: {_reason(err.error)}; "
            "no output written"
        ) from err.error
    except pa.ArrowInvalid as err:
        raise BatchInputError(f"cannot read {request.input}: {err}") from err
    except _WriteFailed as err:
        reason = err.error.strerror or _reason(err.error)
        raise BatchOutputError(
            f"--output {request.output}: cannot write there ({reason}); no output written"
        ) from err.error
    except OSError as err:  # reading the input (the rows, or its digest)
        reason = err.strerror or _reason(err)
        raise BatchInputError(f"cannot read {request.input}: {reason}") from err
    finally:
        scorer.close(cancel=failed)
        if writing:
            writer.close(cancel=True)
        rejects.close()
        if progress is not None:
            progress.close()
        digests.shutdown(wait=not failed, cancel_futures=failed)
    return scored, rejects.count, digest, rows_out.digest


def _reason(err: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__


class _WriteFailed(Exception):
    """Writing the output or the rejects failed (on the writing thread or this one)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error)
        self.error = error


@contextmanager
def _writing() -> Iterator[None]:
    """Tell a write's OSError from a read's: both are OSErrors."""
    try:
        yield
    except OSError as err:
        raise _WriteFailed(err) from err


def _scored_batch(
    batch: pa.RecordBatch, chunk: ScoredChunk, schema: pa.Schema, features: tuple[str, ...]
) -> pa.RecordBatch:
    """The kept rows of a batch: features as scored, other columns as read, and the score."""
    if len(chunk.rejected):
        keep = np.ones(batch.num_rows, dtype=bool)
        keep[chunk.rejected] = False
        batch = batch.take(_numpy_array(np.flatnonzero(keep)))
    position = {name: j for j, name in enumerate(features)}
    columns = [
        _numpy_array(chunk.columns[position[name]]) if name in position else batch.column(name)
        for name in schema.names[:-1]
    ]
    columns.append(_numpy_array(chunk.scores))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _numpy_array(values: np.ndarray) -> pa.Array:
    """A NumPy vector of numbers without nulls as an Arrow array, sharing its memory.

    Not `pa.array(values)`: that imports pandas the first time (about a second,
    on a scoring thread) to see whether `values` is a pandas object.
    """
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(
        pa.from_numpy_dtype(values.dtype), len(values), [None, pa.py_buffer(values)]
    )


def _progress(source: InputSource) -> Any:
    """A progress bar (rows, rows/s, ETA) on stderr; the total of CSV rows is estimated."""
    from tqdm import tqdm

    total = _estimated_rows(source)
    return tqdm(total=total, unit=" rows", unit_scale=True, file=sys.stderr, dynamic_ncols=True)


def _estimated_rows(source: InputSource) -> int | None:
    total = 0
    for item in source.files:
        if item.rows is not None:
            total += item.rows
            continue
        with item.fs.open(item.path, "rb") as handle:
            sample = handle.read(1 << 20)
        lines = sample.count(b"\n")
        if not lines:
            return None
        total += max(0, round(item.size * lines / len(sample)) - 1)
    return total
