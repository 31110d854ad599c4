"""Score chunks on every core, results in input order, with a bounded number in flight.

Each worker process loads the model once (its initializer); chunks travel to it
as Arrow record batches holding only the model's features. At most `window`
chunks are in flight, so memory stays flat however long the input.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import TypeVar

import pyarrow as pa

from ml_service.batch.rows import ScoredChunk, score_rows
from ml_service.models.load import LoadedModel, load_model
from ml_service.models.resolve import ResolvedModel

T = TypeVar("T")
R = TypeVar("R")

_model: LoadedModel | None = None


def ordered_map(
    executor: Executor, function: Callable[[T], R], items: Iterable[T], window: int
) -> Iterator[tuple[T, R]]:
    """`(item, function(item))` for each item, computed on the executor, in the items' order.

    At most `window` items are submitted and not yet yielded; the items are read
    lazily, so a generator of chunks is never read far ahead of the writer.
    """
    if window < 1:
        raise ValueError("window must be at least 1")
    pending: deque[tuple[T, Future[R]]] = deque()
    for item in items:
        pending.append((item, executor.submit(function, item)))
        if len(pending) >= window:
            first, future = pending.popleft()
            yield first, future.result()
    while pending:
        first, future = pending.popleft()
        yield first, future.result()


def _init_worker(resolved: ResolvedModel) -> None:
    global _model
    _model = load_model(resolved)


def _score_in_worker(batch: pa.RecordBatch) -> ScoredChunk:
    assert _model is not None, "the worker's initializer loads the model"
    return score_rows(batch, _model.features, _model.predict)


class ChunkScorer:
    """Scores chunks of feature columns: in this process (one worker) or in a process pool."""

    def __init__(self, model: LoadedModel, resolved: ResolvedModel, workers: int) -> None:
        self._model = model
        self._workers = workers
        self._executor: ProcessPoolExecutor | None = None
        if workers > 1:
            # forkserver: workers start from a clean process, not a fork of this one
            # (its threads and MLflow state), and import the scoring code only once.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["ml_service.batch.pool"])
            self._executor = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=context,
                initializer=_init_worker,
                initargs=(resolved,),
            )

    def map(
        self, batches: Iterable[pa.RecordBatch]
    ) -> Iterator[tuple[pa.RecordBatch, ScoredChunk]]:
        """Each batch with its scored chunk, in order (workers get only the feature columns)."""
        features: Sequence[str] = self._model.features
        if self._executor is None:
            for batch in batches:
                yield batch, score_rows(batch, features, self._model.predict)
            return
        originals: deque[pa.RecordBatch] = deque()

        def feature_columns() -> Iterator[pa.RecordBatch]:
            for batch in batches:
                originals.append(batch)
                yield batch.select(list(features))

        for _, scored in ordered_map(
            self._executor, _score_in_worker, feature_columns(), 2 * self._workers
        ):
            yield originals.popleft(), scored

    def close(self, cancel: bool = False) -> None:
        """Stop the workers (dropping queued chunks when `cancel`)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=cancel)
            self._executor = None
