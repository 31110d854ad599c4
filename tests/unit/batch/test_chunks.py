"""Chunks are cut at fixed rows of the file, so scores do not depend on --chunk-rows."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ml_service.batch.rows import SCORE_BLOCK_ROWS, aligned_chunk_rows, score_rows
from ml_service.batch.sources import _exact_chunks

FEATURES = tuple("abcdefghij")  # ten, as BLAS rounds rows differently by place


def test_batches_are_recut_to_exact_sizes_in_order() -> None:
    batches = [pa.record_batch({"x": list(range(s, e))}) for s, e in [(0, 5), (5, 6), (6, 20)]]
    chunks = list(_exact_chunks(batches, 4))
    assert [chunk.num_rows for chunk in chunks] == [4, 4, 4, 4, 4]
    assert [v for chunk in chunks for v in chunk.column("x").to_pylist()] == list(range(20))


def test_chunk_rows_round_up_to_whole_scoring_blocks() -> None:
    assert aligned_chunk_rows(1) == SCORE_BLOCK_ROWS
    assert aligned_chunk_rows(SCORE_BLOCK_ROWS) == SCORE_BLOCK_ROWS
    assert aligned_chunk_rows(SCORE_BLOCK_ROWS + 1) == 2 * SCORE_BLOCK_ROWS


def test_scores_are_bit_identical_whatever_the_chunks_and_rejects() -> None:
    rng = np.random.default_rng(0)
    rows = 5 * SCORE_BLOCK_ROWS + 77
    data = {name: rng.normal(size=rows) for name in FEATURES}
    data["a"][[3, 2000, 4100]] = np.nan  # rejected rows must not shift the others
    table = pa.table(data)
    weights = rng.normal(size=len(FEATURES))

    def predict(matrix: np.ndarray) -> np.ndarray:
        return matrix @ weights  # BLAS: a row's rounding may depend on its place

    def scores(chunk_rows: int) -> np.ndarray:
        chunks = _exact_chunks(table.to_batches(max_chunksize=999), chunk_rows)
        return np.concatenate([score_rows(c, FEATURES, predict).scores for c in chunks])

    one_block, three_blocks = scores(SCORE_BLOCK_ROWS), scores(3 * SCORE_BLOCK_ROWS)
    assert len(one_block) == rows - 3
    assert one_block.tobytes() == three_blocks.tobytes()
