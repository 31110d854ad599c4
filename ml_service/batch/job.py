"""A batch-scoring job, top to bottom: check everything, stream, score, write, record.

Every check (model, input, schema, output, tracking store) happens before the
first row is scored, so a mistake is one error and leaves nothing behind.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from ml_service.batch import (
    DEFAULT_CHUNK_ROWS,
    DEFAULT_ERROR_THRESHOLD,
    DEFAULT_SCORE_COLUMN,
    EXPERIMENT,
)
from ml_service.batch.output import (
    AtomicFile,
    RejectsWriter,
    RowWriter,
    WriteBehind,
    output_format,
    rejects_location,
)
from ml_service.batch.pool import ChunkScorer
from ml_service.batch.rows import ScoredChunk, aligned_chunk_rows, score_rows
from ml_service.batch.sources import InputFile, InputSource, open_source
from ml_service.batch.threshold import ErrorThreshold, parse_threshold
from ml_service.errors import BatchInputError, BatchOutputError, RejectThresholdError
from ml_service.models.load import LoadedModel, load_model
from ml_service.models.resolve import ResolvedModel, default_model_uri, resolve_model_uri
from ml_service.settings import Env

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchRequest:
    """What to score, with what, and where to put it (the command's options)."""

    input: str
    output: str
    model_uri: str | None = None
    format: str | None = None
    score_column: str = DEFAULT_SCORE_COLUMN
    workers: int | None = None
    error_threshold: str = DEFAULT_ERROR_THRESHOLD
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    progress: bool = False
    track: bool = True


@dataclass(frozen=True)
class BatchResult:
    """What a job did: the model, the input, the output and the counts."""

    model_uri: str
    model_name: str
    model_version: str
    input: str
    input_digest: str
    dataset_ref: str | None
    output: str
    output_digest: str
    rejects: str
    rows_scored: int
    rows_rejected: int
    seconds: float
    workers: int
    run_id: str | None = None

    @property
    def rows_per_second(self) -> float:
        """Rows read per second, over the whole job."""
        rows = self.rows_scored + self.rows_rejected
        return rows / self.seconds if self.seconds > 0 else 0.0


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
    tracking: Any


def run_batch(request: BatchRequest, env: Env) -> BatchResult:
    """Score `request.input` with the model into `request.output`, and record the job.

    Raises:
        ModelLoadError: the model cannot be found or loaded.
        BatchInputError: the input is missing, unreadable or does not fit the model.
        BatchOutputError: the output cannot be written.
        RejectThresholdError: more rows were rejected than the threshold allows (the
            rejects file is written, the output is not).
    """
    plan = _check(request, env)
    started = time.perf_counter()
    try:
        scored, rejected, digest_in = _score(plan, request)
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
        output_digest = plan.output.publish()
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
    if plan.tracking is not None:
        from ml_service.batch.record import record_run

        result = record_run(plan.tracking, result, request, str(plan.threshold))
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
    tracking = None
    if request.track:
        from ml_service.tracking.store import configure_tracking

        tracking = configure_tracking(env.model_copy(update={"experiment_name": EXPERIMENT}))
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
        tracking=tracking,
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


def _score(plan: _Plan, request: BatchRequest) -> tuple[int, int, str]:
    """Stream every file through the workers into the temporary outputs."""
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
    writer = WriteBehind(RowWriter(plan.output.temp, plan.output_format, schema))
    rejects = RejectsWriter(plan.rejects.temp)
    progress = _progress(plan.source) if request.progress else None
    predict = plan.model.predict

    def score(batch: pa.RecordBatch) -> tuple[pa.RecordBatch, ScoredChunk]:
        # Runs on the scoring threads: checking, scoring and building the output
        # batch all release the GIL; only writing stays in order on this thread.
        chunk = score_rows(batch, features, predict)
        return _scored_batch(batch, chunk, schema, features), chunk

    chunk_rows = aligned_chunk_rows(request.chunk_rows)
    scored = 0
    failed = True
    try:
        for item in plan.source.files:
            first_row = 1
            batches = item.open_batches(features, chunk_rows, passthrough)
            for batch, (out, chunk) in scorer.map(score, batches):
                writer.write(out)
                if len(chunk.rejected):
                    rows = (chunk.rejected + first_row).tolist()
                    rejects.write(item.uri, rows, chunk.reasons)
                first_row += batch.num_rows
                scored += chunk.kept
                if progress is not None:
                    progress.update(batch.num_rows)
        failed = False
    except pa.ArrowInvalid as err:
        raise BatchInputError(f"cannot read {request.input}: {err}") from err
    finally:
        scorer.close(cancel=failed)
        writer.close(cancel=failed)
        rejects.close()
        if progress is not None:
            progress.close()
        digests.shutdown(wait=not failed, cancel_futures=failed)
    return scored, rejects.count, digest_future.result()


def _scored_batch(
    batch: pa.RecordBatch, chunk: ScoredChunk, schema: pa.Schema, features: tuple[str, ...]
) -> pa.RecordBatch:
    """The kept rows of a batch: features as scored, other columns as read, and the score."""
    if len(chunk.rejected):
        keep = np.ones(batch.num_rows, dtype=bool)
        keep[chunk.rejected] = False
        batch = batch.filter(pa.array(keep))
    position = {name: j for j, name in enumerate(features)}
    columns = [
        pa.array(chunk.columns[position[name]]) if name in position else batch.column(name)
        for name in schema.names[:-1]
    ]
    columns.append(pa.array(chunk.scores))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


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
