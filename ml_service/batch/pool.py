"""Score chunks on every core, results in input order, with a bounded number in flight.

Chunks are scored by threads of this process, sharing the one loaded model: the
work per chunk (Arrow casts, NumPy, ONNX Runtime or scikit-learn's matrix
products) releases the GIL, so threads use every core without copying a chunk
to another process or paying a worker's start-up (imports, model load). At most
`window` chunks are in flight, so memory stays flat however long the input.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

WINDOW_PER_WORKER = 2
"""Chunks in flight per worker: one being scored, one waiting."""


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


class ChunkScorer:
    """Applies a chunk function in this thread (one worker) or in a pool of threads, in order."""

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._executor: ThreadPoolExecutor | None = None
        if workers > 1:
            self._executor = ThreadPoolExecutor(
                max_workers=workers, thread_name_prefix="batch-score"
            )

    def map(self, function: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, R]]:
        """Each item with `function(item)`, in the items' order."""
        if self._executor is None:
            for item in items:
                yield item, function(item)
            return
        yield from ordered_map(self._executor, function, items, WINDOW_PER_WORKER * self._workers)

    def close(self, cancel: bool = False) -> None:
        """Stop the threads (dropping queued chunks when `cancel`)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=cancel)
            self._executor = None
