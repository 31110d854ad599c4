"""Batch scoring: files in, predictions out, streamed in chunks and scored on every core.

`job` reads top to bottom as the recipe (check everything, then stream, score,
write atomically, record); `rows` and `threshold` are the pure pieces, `sources`
and `output` the I/O, `pool` the ordered pool of scoring threads.
"""

DEFAULT_SCORE_COLUMN = "score"
DEFAULT_ERROR_THRESHOLD = "1%"
DEFAULT_CHUNK_ROWS = 65_536
EXPERIMENT = "batch-scoring"
"""The MLflow experiment batch-scoring runs are logged to."""
