"""`mlops batch-score`: score a file, a folder or a dataset version with a registered model."""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import TYPE_CHECKING

import click

from ml_service.batch import (
    DEFAULT_CHUNK_ROWS,
    DEFAULT_ERROR_THRESHOLD,
    DEFAULT_SCORE_COLUMN,
    EXPERIMENT,
)

if TYPE_CHECKING:
    from ml_service.batch.recorder import Recorder
    from ml_service.batch.result import BatchRequest, BatchResult
    from ml_service.settings import Env


@click.command("batch-score")
@click.option(
    "--model",
    "model_uri",
    default=None,
    help="MLflow model URI, e.g. models:/diabetes_regression_model/3 "
    "[default: the model `mlops serve` serves: @production if set, else @champion].",
)
@click.option(
    "--input",
    "input_",
    required=True,
    metavar="SRC",
    help="CSV or Parquet file, a folder of them, any fsspec URL, or a dataset NAME:VERSION.",
)
@click.option(
    "--output",
    required=True,
    metavar="DST",
    help="File or fsspec URL; its extension (.csv, .parquet) picks the format. "
    "Rejected rows go beside it, in NAME.rejects.csv.",
)
@click.option(
    "--format",
    "format_",
    type=click.Choice(["csv", "parquet"]),
    default=None,
    help="Output format, whatever the extension.",
)
@click.option(
    "--score-column", default=DEFAULT_SCORE_COLUMN, show_default=True, help="Predictions' column."
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Scoring threads [default: the number of cores].",
)
@click.option(
    "--error-threshold",
    default=DEFAULT_ERROR_THRESHOLD,
    show_default=True,
    help="Rejected rows tolerated: a count (-1: any) or a percentage of the rows read.",
)
@click.option(
    "--chunk-rows",
    type=click.IntRange(min=1),
    default=DEFAULT_CHUNK_ROWS,
    show_default=True,
    help="Rows per chunk handed to a scoring thread, rounded up to a multiple of 1,024 "
    "(memory in use grows with it).",
)
@click.option("--quiet", is_flag=True, help="No progress bar and no summary.")
def batch_score_command(
    model_uri: str | None,
    input_: str,
    output: str,
    format_: str | None,
    score_column: str,
    workers: int | None,
    error_threshold: str,
    chunk_rows: int,
    quiet: bool,
) -> None:
    """Score every row of SRC with a model into DST, in order, with a score column."""
    # First thing: what records the job; if that is MLflow, a child process starts
    # importing it and opening the tracking store (seconds) while this one scores.
    from ml_service.batch.recorder import start_recorder
    from ml_service.batch.result import BatchRequest
    from ml_service.settings import load_env

    env = load_env()
    recorder = start_recorder(env)
    request = BatchRequest(
        input=input_,
        output=output,
        model_uri=model_uri,
        format=format_,
        score_column=score_column,
        workers=workers,
        error_threshold=error_threshold,
        chunk_rows=chunk_rows,
        progress=not quiet and sys.stderr.isatty(),
    )
    try:
        _batch_score(env, recorder, request, quiet)
    finally:
        recorder.close()


def _batch_score(env: Env, recorder: Recorder, request: BatchRequest, quiet: bool) -> None:
    from ml_service.batch.job import run_batch

    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        result = run_batch(request, env, recorder)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not quiet:
        click.echo(summary(result))


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Unwind like Ctrl-C, so the temporary output is removed on the way out.
    raise SystemExit(128 + signum)


def summary(result: BatchResult) -> str:
    """What a job printed when it finished."""
    version = f" version {result.model_version}" if result.model_version else ""
    lines = [
        f"scored {result.rows_scored} rows ({result.rows_rejected} rejected) in "
        f"{result.seconds:.1f} s, {result.rows_per_second:,.0f} rows/s, "
        f"{result.workers} worker{'s' if result.workers > 1 else ''}",
        f"  model    {result.model_name}{version} ({result.model_uri})",
        f"  input    {result.input}"
        + (f" = {result.dataset_ref}" if result.dataset_ref else "")
        + f" (sha256 {result.input_digest[:12]})",
        f"  output   {result.output} (sha256 {result.output_digest[:12]})",
        f"  rejects  {result.rejects}",
    ]
    if result.run_id:
        lines.append(f"  run      {result.run_id} in experiment {EXPERIMENT}")
    return "\n".join(lines)
