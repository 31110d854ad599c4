"""One chunk of rows → a feature matrix, the rows that cannot be scored and why, predictions.

Pure functions over Arrow and NumPy arrays, run on the scoring threads. A row is
rejected, not fatal, when a feature is missing, not a number or not finite (or so
large that a linear model overflows), with the first such feature as the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ml_service.models.payloads import MAX_ABS_VALUE

_SHOWN_CHARS = 20


@dataclass(frozen=True)
class ScoredChunk:
    """What scoring a chunk gives: the kept rows' features and scores, the rejects.

    `columns` holds one float64 array per feature (kept rows only), `rejected`
    the positions of rejected rows within the chunk and `reasons` why, in order.
    """

    columns: list[np.ndarray]
    scores: np.ndarray
    rejected: np.ndarray
    reasons: list[str]

    @property
    def kept(self) -> int:
        """Rows scored."""
        return len(self.scores)


def is_numeric_or_text(data_type: pa.DataType) -> bool:
    """Whether a column of this type can hold a feature (numbers, or numbers as text)."""
    return bool(
        pa.types.is_integer(data_type)
        or pa.types.is_floating(data_type)
        or pa.types.is_decimal(data_type)
        or pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_null(data_type)
    )


def _show(value: str) -> str:
    return repr(value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "…")


def feature_values(
    column: pa.Array | pa.ChunkedArray, name: str
) -> tuple[np.ndarray, dict[int, str]]:
    """A feature column as float64 (NaN where a row is rejected) and the rows' problems.

    Returns:
        The values, and `{row position: reason}` for the rows that cannot be scored.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        try:
            column = pc.cast(column, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return _parse_text(column.to_pylist(), name)
    values = _float64_values(pc.cast(column, pa.float64()))
    problems: dict[int, str] = {}
    if column.null_count:
        missing = _numpy_view(pc.indices_nonzero(column.is_null()), np.uint64)
        values = values.copy()
        values[missing] = np.nan
        for i in missing.tolist():
            problems[int(i)] = f"{name}: missing value"
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(values) <= MAX_ABS_VALUE)
    for i in np.flatnonzero(bad):
        problems.setdefault(int(i), _range_problem(name, float(values[i])))
    return values, problems


def _float64_values(array: pa.Array) -> np.ndarray:
    """A float64 column's values as a read-only NumPy view (whatever sits in null slots)."""
    return _numpy_view(array, np.float64)


def _numpy_view(array: pa.Array, dtype: type[np.generic]) -> np.ndarray:
    """The values buffer of a fixed-width Arrow array, as NumPy, without a copy.

    Not `Array.to_numpy()`: pyarrow imports pandas the first time it converts
    (about a second, holding the GIL, on a scoring thread).
    """
    data = array.buffers()[1]
    if data is None:
        return np.empty(0, dtype=dtype)
    width = np.dtype(dtype).itemsize
    return np.frombuffer(data, dtype=dtype, count=len(array), offset=array.offset * width)


def _range_problem(name: str, value: float) -> str:
    if np.isfinite(value):
        return f"{name}: {value:g} is out of range (at most {MAX_ABS_VALUE:g} in magnitude)"
    return f"{name}: not a finite number ({value})"


def _parse_text(texts: Sequence[str | None], name: str) -> tuple[np.ndarray, dict[int, str]]:
    """The slow path for a text column Arrow could not cast: one value at a time."""
    values = np.full(len(texts), np.nan)
    problems: dict[int, str] = {}
    for i, text in enumerate(texts):
        if text is None or not text.strip():
            problems[i] = f"{name}: missing value"
            continue
        try:
            if "_" in text:  # Python's float() accepts 1_000; a data file should not
                raise ValueError(text)
            value = float(text)
        except ValueError:
            problems[i] = f"{name}: not a number ({_show(text.strip())})"
            continue
        if not abs(value) <= MAX_ABS_VALUE:
            problems[i] = _range_problem(name, value)
        else:
            values[i] = value
    return values, problems


SCORE_BLOCK_ROWS = 1_024
"""Rows per call to the model's predict. BLAS and ONNX Runtime may round a row's
prediction differently depending on where it falls in the matrix they are given,
so every call covers the same rows of the file, whatever the chunks: chunks hold
whole blocks (see `aligned_chunk_rows`) and rejected rows keep their place."""


def aligned_chunk_rows(chunk_rows: int) -> int:
    """`chunk_rows` rounded up to whole scoring blocks."""
    return -(-chunk_rows // SCORE_BLOCK_ROWS) * SCORE_BLOCK_ROWS


def score_rows(
    batch: pa.RecordBatch, features: Sequence[str], predict: Callable[[np.ndarray], np.ndarray]
) -> ScoredChunk:
    """Check and score a chunk: the model's features, by name, in its order.

    Rows with a bad feature, or whose prediction is not finite, are rejected with a
    reason: the first bad feature in the model's order. The model is called on
    blocks of `SCORE_BLOCK_ROWS` rows from the chunk's start, rejected rows
    included (as zeros, their predictions dropped), so a row's score does not
    depend on how the file was cut into chunks, as long as chunks hold whole blocks.
    """
    matrix = np.empty((len(features), batch.num_rows), dtype=np.float64)
    reasons: dict[int, str] = {}
    for j, name in enumerate(features):
        values, problems = feature_values(batch.column(name), name)
        matrix[j] = values
        for i, reason in problems.items():
            reasons.setdefault(i, reason)
    keep = np.ones(batch.num_rows, dtype=bool)
    keep[list(reasons)] = False
    rows = np.ascontiguousarray(matrix.T)
    if reasons:
        rows[~keep] = 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        blocks = [
            np.asarray(predict(rows[start : start + SCORE_BLOCK_ROWS]), dtype=np.float64)
            for start in range(0, batch.num_rows, SCORE_BLOCK_ROWS)
        ]
    scores = np.concatenate(blocks).reshape(-1) if blocks else np.empty(0)
    bad_score = keep & ~np.isfinite(scores)
    for position in np.flatnonzero(bad_score).tolist():
        reasons[position] = "the prediction is not a finite number (features far out of range)"
    keep &= ~bad_score
    rejected = np.flatnonzero(~keep)
    return ScoredChunk(
        columns=list(matrix[:, keep]) if len(rejected) else list(matrix),
        scores=scores[keep],
        rejected=rejected,
        reasons=[reasons[int(i)] for i in rejected],
    )
