"""The batch pipeline's last step: copy the scores to `<datastore>/scores/<model>/<version>/<date>`.

MLOpsPython's `parallel_batchscore_copyOutput.py`, model agnostic: it reads what
the scoring step wrote (`BatchScoreOutput`) and copies the scores file and its
rejects into the datastore (any fsspec URL), under the UTC date of the copy.

    python -m ml_service.pipelines.copy_scores --model_name NAME --step_input DIR \
        --step_output DIR [--run_id ID]
"""

from __future__ import annotations

import argparse
import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path

import mlflow

from ml_service.batch import EXPERIMENT
from ml_service.batch.output import rejects_location
from ml_service.data import datastore
from ml_service.pipelines.contracts import BatchScoreOutput
from ml_service.pipelines.step import StepArgumentParser, start_step, step_run
from ml_service.settings import load_env

log = logging.getLogger(__name__)

LOCATION_TAG = "mlops.batch.scores_location"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = StepArgumentParser(prog="copy_scores", description=__doc__.splitlines()[0])
    parser.add_argument("--model_name", required=True)
    parser.add_argument("--step_input", required=True, help="The scoring step's output folder.")
    parser.add_argument("--step_output", required=True)
    parser.add_argument("--run_id", default=None)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> str:
    """Copy the scores; returns the datastore folder they were copied to."""
    args = parse_args(argv)
    scored = BatchScoreOutput.read(args.step_input, args.model_name)
    # The pipeline's runs are in the batch-scoring experiment; this step's run is one of them.
    context = start_step(load_env().model_copy(update={"experiment_name": EXPERIMENT}))
    fs, root = datastore.filesystem(datastore.datastore_uri(context.env))
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    folder = f"{root}/scores/{scored.model_name}/{scored.model_version or 'unversioned'}/{day}"
    fs.makedirs(folder, exist_ok=True)
    source = Path(args.step_input) / scored.scores_file
    for local in (source, Path(rejects_location(str(source)))):
        target = f"{folder}/{local.name}"
        partial = f"{target}.partial-{uuid.uuid4().hex}"
        fs.put_file(str(local), partial)
        fs.mv(partial, target)
    location = str(fs.unstrip_protocol(folder))
    with step_run(args.run_id, "Copy output"):
        mlflow.set_tag(LOCATION_TAG, location)
    Path(args.step_output).mkdir(parents=True, exist_ok=True)
    (Path(args.step_output) / "scores_location.txt").write_text(location + "\n", encoding="utf-8")
    log.info("  scores copied to %s", location)
    return location


if __name__ == "__main__":
    from ml_service.pipelines.step import run_step_cli

    run_step_cli(main)
