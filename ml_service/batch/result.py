"""What a batch-scoring job is asked (the command's options) and what it did.

Plain data, without NumPy or pyarrow, so the process that records the job in
MLflow (`recorder`) can rebuild them cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass

from ml_service.batch import DEFAULT_CHUNK_ROWS, DEFAULT_ERROR_THRESHOLD, DEFAULT_SCORE_COLUMN


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
