"""What every pipeline step shares: start-up, its tracking run, its files, its CLI exit.

A step is a module with `main(argv)`. Azure ML runs it as `python -m MODULE ARGS`;
the local orchestrator calls `main` with the very same arguments in-process.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import mlflow
from mlflow.entities import Run

from ml_service.errors import MlopsError
from ml_service.tracking import Tracking, configure_tracking
from ml_service.util.env_variables import Env, load_env

log = logging.getLogger(__name__)

# Files steps hand to each other through --step_output / --step_input folders.
TRAIN_OUTPUT = "train_output.json"
TEST_DATA = "test_data.parquet"
MODEL_DIR = "model"
EVALUATION_OUTPUT = "evaluation.json"
REGISTRATION_OUTPUT = "registration.json"

# Run tags the steps and the orchestrator agree on.
TAG_PARENT_RUN_ID = "mlflow.parentRunId"
TAG_STEP = "mlops.step"


@dataclass(frozen=True)
class StepContext:
    """Settings and tracking store, ready for a step to use."""

    env: Env
    tracking: Tracking


def start_step(env: Env | None = None) -> StepContext:
    """Point MLflow at the tracking store (reading the settings unless given).

    Steps call this after checking their inputs, so a mistake touches no store.
    """
    env = env or load_env()
    return StepContext(env=env, tracking=configure_tracking(env))


@contextmanager
def step_run(run_id: str | None, run_name: str) -> Iterator[Run]:
    """The run a step logs to: the one the orchestrator made (`--run_id`), or a new one.

    The run ends FAILED if the step raises, FINISHED otherwise.
    """
    with mlflow.start_run(run_id=run_id or None, run_name=None if run_id else run_name) as run:
        yield run


def parse_bool(value: str) -> bool:
    """`true`/`false` (any case, also 1/0, yes/no) for step flags such as --allow_run_cancel."""
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


class StepArgumentParser(argparse.ArgumentParser):
    """argparse that raises MlopsError instead of exiting, so in-process runs report it."""

    def error(self, message: str) -> NoReturn:
        raise MlopsError(f"{self.prog}: {message}")


def write_json(folder: str | Path, name: str, data: dict[str, Any]) -> Path:
    """Write a step's JSON output file, creating the folder."""
    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    return path


def read_json(folder: str | Path, name: str, producer: str) -> dict[str, Any]:
    """Read another step's JSON output, or say which step has to run first."""
    path = Path(folder) / name
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise MlopsError(
            f"{path} not found: --step_input must be the output of {producer}"
        ) from err
    except json.JSONDecodeError as err:
        raise MlopsError(f"{path} is not valid JSON: {err}") from err
    return data


def run_step_cli(main: Callable[[list[str] | None], object]) -> NoReturn:
    """Run a step's `main` as a command: a user mistake is one line on stderr and exit 1."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    for noisy in ("mlflow", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        main(None)
    except MlopsError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    sys.exit(0)
