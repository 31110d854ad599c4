"""The batch pipeline's last step: copy the scores to `<datastore>/scores/<model>/<version>/<date>`.

MLOpsPython's `parallel_batchscore_copyOutput.py`, model agnostic. It reads
the scoring step's output folder in either of its two layouts and copies the
scores into the datastore (any fsspec URL), under the UTC date of the copy:

- the local Batch score step's: `batch_score.json` (`BatchScoreOutput`) naming
  the model version, the scores file and, beside it, its rejects file;
- the Azure ML parallel job's: the one file `append_row` wrote
  (`parallel_run_step.txt` unless the job names it otherwise) and the records
  of the model each scoring process loaded (`ParallelScoringModel`).

    python -m ml_service.pipelines.copy_scores --model_name NAME --step_input DIR \
        --step_output DIR [--run_id ID]
"""

from __future__ import annotations

import argparse
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import mlflow

from ml_service.batch import EXPERIMENT
from ml_service.batch.output import rejects_location
from ml_service.data import datastore
from ml_service.errors import StepContractError
from ml_service.pipelines.contracts import BatchScoreOutput, ParallelScoringModel
from ml_service.pipelines.step import StepArgumentParser, start_step, step_run
from ml_service.settings import load_env

log = logging.getLogger(__name__)

LOCATION_TAG = "mlops.batch.scores_location"
# The file an Azure ML parallel job's `append_row` writes unless told another name.
APPEND_ROW_FILE = "parallel_run_step.txt"
LAYOUTS = (
    f"the Batch score step's ({BatchScoreOutput.FILE} and its scores file) or an Azure ML "
    f"parallel job's (one append_row file, {APPEND_ROW_FILE} by default, and "
    f"{ParallelScoringModel.DIR}/)"
)


@dataclass(frozen=True)
class ScoredFiles:
    """What the scoring step produced: by which model version, in which local files."""

    layout: str
    model_name: str
    model_version: str | None
    files: tuple[Path, ...]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = StepArgumentParser(prog="copy_scores", description=__doc__.splitlines()[0])
    parser.add_argument("--model_name", required=True)
    parser.add_argument("--step_input", required=True, help="The scoring step's output folder.")
    parser.add_argument("--step_output", required=True)
    parser.add_argument("--run_id", default=None)
    return parser.parse_args(argv)


def scored_files(step_input: str | Path, model_name: str) -> ScoredFiles:
    """Detect the scoring step's output layout in `step_input` and what to copy from it.

    Raises:
        StepContractError: the folder is missing or empty, holds neither layout, or its
            records disagree with --model_name or with each other.
    """
    folder = Path(step_input)
    if not folder.is_dir():
        raise StepContractError(
            f"--step_input {folder} is not a folder: give the scoring step's output folder"
        )
    if (folder / BatchScoreOutput.FILE).is_file():
        scored = BatchScoreOutput.read(folder, model_name)
        source = folder / scored.scores_file
        files = [source, Path(rejects_location(str(source)))]
        missing = [str(path) for path in files if not path.is_file()]
        if missing:
            raise StepContractError(
                f"{folder / BatchScoreOutput.FILE} names files that are not there: "
                f"{', '.join(missing)}"
            )
        return ScoredFiles("local", scored.model_name, scored.model_version, tuple(files))
    entries = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    if not entries:
        raise StepContractError(
            f"--step_input {folder} is empty: expected the output folder of {LAYOUTS}"
        )
    rows = [name for name in entries if (folder / name).is_file()]
    if len(rows) != 1:
        raise StepContractError(
            f"--step_input {folder} holds {', '.join(entries)}: not a scoring output layout; "
            f"expected {LAYOUTS}"
        )
    return _parallel_job_output(folder, folder / rows[0], model_name)


def _parallel_job_output(folder: Path, rows: Path, model_name: str) -> ScoredFiles:
    records = ParallelScoringModel.read_all(folder)
    if not records:
        raise StepContractError(
            f"{folder} holds {rows.name} but no {ParallelScoringModel.DIR}/ record of the model "
            "that scored it: compile the batch pipeline again (its score component passes "
            "--model_record_dir to the scoring script)"
        )
    loaded = sorted({(r.model_name, r.model_version or "") for r in records})
    if len(loaded) > 1:
        versions = ", ".join(f"{name} {version or 'unversioned'}" for name, version in loaded)
        raise StepContractError(
            f"the parallel job's scoring processes loaded different models ({versions}), so "
            f"{rows.name} mixes their scores: the alias moved during the job; score again, or "
            "pin --model_version"
        )
    name, version = loaded[0]
    if name != model_name:
        raise StepContractError(
            f"--model_name {model_name!r} disagrees with {folder / ParallelScoringModel.DIR}, "
            f"whose scoring processes loaded model {name!r}"
        )
    return ScoredFiles("azureml-parallel", name, version or None, (rows,))


def main(argv: list[str] | None = None) -> str:
    """Copy the scores; returns the datastore folder they were copied to."""
    args = parse_args(argv)
    scored = scored_files(args.step_input, args.model_name)
    # The pipeline's runs are in the batch-scoring experiment; this step's run is one of them.
    context = start_step(load_env().model_copy(update={"experiment_name": EXPERIMENT}))
    fs, root = datastore.filesystem(datastore.datastore_uri(context.env))
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    folder = f"{root}/scores/{scored.model_name}/{scored.model_version or 'unversioned'}/{day}"
    fs.makedirs(folder, exist_ok=True)
    for local in scored.files:
        target = f"{folder}/{local.name}"
        partial = f"{target}.partial-{uuid.uuid4().hex}"
        fs.put_file(str(local), partial)
        fs.mv(partial, target)
    location = str(fs.unstrip_protocol(folder))
    with step_run(args.run_id, "Copy output"):
        mlflow.set_tag(LOCATION_TAG, location)
    Path(args.step_output).mkdir(parents=True, exist_ok=True)
    (Path(args.step_output) / "scores_location.txt").write_text(location + "\n", encoding="utf-8")
    log.info("  %s scores copied to %s", scored.layout, location)
    return location


if __name__ == "__main__":
    from ml_service.pipelines.step import run_step_cli

    run_step_cli(main)
