"""Azure ML's parallel scoring contract for the diabetes model: `init()`, then `run(mini_batch)`.

A thin adapter over the platform's batch scoring (`ml_service.batch`), the code
`mlops batch-score` runs: the same model resolution and loading, the same row
checks (a row with a missing, non-numeric or non-finite feature is left out of
the result and logged, so Azure ML counts it against `error_threshold`).
`main(argv)` is the local pipeline's Batch score step: the whole dataset on
every core of this machine.

    python -m diabetes_regression.scoring.parallel_batchscore --model_name NAME \
        [--model_version V] --dataset_name NAME [--dataset_version V] \
        [--data_file_path FILE] --step_output DIR [--run_id ID]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from diabetes_regression.scoring.score import mlflow_model_folder
from ml_service.batch import EXPERIMENT
from ml_service.batch.rows import score_rows
from ml_service.models.load import LoadedModel, load_model
from ml_service.models.resolve import default_model_uri, resolve_model_uri
from ml_service.settings import Env, load_env

log = logging.getLogger(__name__)

SCORE_COLUMN = "score"
SCORES_FILE = "scores.parquet"
# The parallel job passes its output folder under this flag (program_arguments): each
# process records there which model it loaded, for the copy step.
RECORD_FLAG = "--model_record_dir"

model: LoadedModel | None = None


def init(model_uri: str | None = None, record_dir: str | None = None) -> None:
    """Load the model once: `model_uri`, else AZUREML_MODEL_DIR (a model folder), else the default.

    Then record which model this process loaded in `record_dir` (else the
    folder after `--model_record_dir` on the command line, as the Azure ML
    parallel job passes it), for the copy step; no record without either.

    Raises:
        ModelLoadError: the model cannot be found or loaded.
    """
    global model
    env = load_env()
    model_dir = os.environ.get("AZUREML_MODEL_DIR")
    uri = model_uri or (model_dir and mlflow_model_folder(model_dir)) or default_model_uri(env)
    model = load_model(resolve_model_uri(uri, env))
    log.info("loaded %s version %s", model.name, model.version)
    record_dir = record_dir or _flag_value(sys.argv, RECORD_FLAG)
    if record_dir:
        from ml_service.pipelines.contracts import ParallelScoringModel

        ParallelScoringModel(
            model_name=model.name, model_version=model.version, model_uri=uri
        ).write(record_dir)


def _flag_value(argv: list[str], flag: str) -> str | None:
    """The value after `flag` in `argv` (the parallel job's driver adds flags of its own)."""
    for index, item in enumerate(argv):
        if item == flag and index + 1 < len(argv):
            return argv[index + 1]
        if item.startswith(flag + "="):
            return item.split("=", 1)[1]
    return None


def run(mini_batch: pd.DataFrame | list[str]) -> pd.DataFrame:
    """Score a mini-batch: a data frame (tabular input) or a list of CSV/Parquet files.

    Returns:
        The rows that could be scored, in order, with a `score` column.

    Raises:
        RuntimeError: `init()` was not called.
    """
    if model is None:
        raise RuntimeError("call init() before run()")
    frames = [mini_batch] if isinstance(mini_batch, pd.DataFrame) else _read(mini_batch)
    scored = [_score_frame(model, frame) for frame in frames]
    return pd.concat(scored, ignore_index=True) if scored else pd.DataFrame()


def _read(paths: list[str]) -> list[pd.DataFrame]:
    assert model is not None
    text = pacsv.ConvertOptions(column_types={name: pa.string() for name in model.features})
    return [
        (
            pq.read_table(path)
            if Path(path).suffix in (".parquet", ".pq")
            else pacsv.read_csv(path, convert_options=text)
        ).to_pandas()
        for path in paths
    ]


def _score_frame(loaded: LoadedModel, frame: pd.DataFrame) -> pd.DataFrame:
    features = {
        name: pa.array(
            [None if pd.isna(v) else str(v) for v in frame[name]]
            if frame[name].dtype == object
            else frame[name]
        )
        for name in loaded.features
    }
    chunk = score_rows(pa.record_batch(features), loaded.features, loaded.predict)
    for row, reason in zip(chunk.rejected.tolist(), chunk.reasons, strict=True):
        log.warning("row %d not scored: %s", row, reason)
    kept = frame.drop(index=frame.index[chunk.rejected]).reset_index(drop=True)
    for name, values in zip(loaded.features, chunk.columns, strict=True):
        kept[name] = values
    kept[SCORE_COLUMN] = chunk.scores
    return kept


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from ml_service.pipelines.step import StepArgumentParser, optional_value

    parser = StepArgumentParser(prog="parallel_batchscore", description=__doc__.splitlines()[0])
    parser.add_argument("--model_name", required=True)
    parser.add_argument("--model_version", type=optional_value, default=None)
    parser.add_argument("--dataset_name", required=True)
    parser.add_argument("--dataset_version", default="latest")
    parser.add_argument("--data_file_path", type=optional_value, default=None)
    parser.add_argument("--step_output", required=True)
    parser.add_argument("--run_id", default=None)
    return parser.parse_args(argv)


def model_uri_for(env: Env, model_name: str, model_version: str | None) -> str:
    """`models:/NAME/VERSION`, or the model the service would serve under that name."""
    if model_version:
        return f"models:/{model_name}/{model_version}"
    return default_model_uri(env.model_copy(update={"model_name": model_name}))


def main(argv: list[str] | None = None) -> None:
    """The local pipeline's Batch score step: score the dataset (or file) into --step_output."""
    from ml_service.batch.job import run_batch
    from ml_service.batch.record import record_run
    from ml_service.batch.result import BatchRequest
    from ml_service.pipelines.contracts import BatchScoreOutput
    from ml_service.tracking.store import configure_tracking

    args = parse_args(argv)
    env = load_env()
    source = args.data_file_path or f"{args.dataset_name}:{args.dataset_version}"
    request = BatchRequest(
        input=source,
        output=str(Path(args.step_output) / SCORES_FILE),
        model_uri=model_uri_for(env, args.model_name, args.model_version),
        score_column=SCORE_COLUMN,
        track=False,
    )
    result = run_batch(request, env)
    if args.run_id:
        tracking = configure_tracking(env.model_copy(update={"experiment_name": EXPERIMENT}))
        record_run(tracking, result, request, request.error_threshold, run_id=args.run_id)
    BatchScoreOutput(
        model_name=result.model_name,
        model_version=result.model_version,
        input=result.dataset_ref or result.input,
        input_digest=result.input_digest,
        scores_file=SCORES_FILE,
        scores_digest=result.output_digest,
        rows_scored=result.rows_scored,
        rows_rejected=result.rows_rejected,
    ).write(args.step_output)
    log.info(
        "  scored %d rows (%d rejected) with %s version %s",
        result.rows_scored,
        result.rows_rejected,
        result.model_name,
        result.model_version,
    )


if __name__ == "__main__":
    from ml_service.pipelines.step import run_step_cli

    run_step_cli(main)
