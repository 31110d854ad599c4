"""What every pipeline step shares at run time: start-up, its tracking run, its CLI.

A step is a module with `main(argv)`. Azure ML runs it as `python -m MODULE ARGS`;
the local orchestrator calls `main` with the very same arguments in-process.
What steps hand each other is in `contracts`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NoReturn

import mlflow
from mlflow.entities import Run

from ml_service.errors import MlopsError
from ml_service.pipelines.definition import NO_VALUE
from ml_service.registry.tags import RunTag
from ml_service.settings import Env, load_env
from ml_service.tracking.store import Tracking, configure_tracking

log = logging.getLogger(__name__)


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

    The run ends FAILED if the step raises, FINISHED otherwise. It is tagged with the
    pid of the process running the step (the orchestrator's own with in-process steps).
    """
    with mlflow.start_run(run_id=run_id or None, run_name=None if run_id else run_name) as run:
        mlflow.set_tag(RunTag.STEP_PID, str(os.getpid()))
        yield run


def parse_bool(value: str) -> bool:
    """`true`/`false` (any case, also 1/0, yes/no) for step flags such as --allow_run_cancel."""
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def optional_value(value: str) -> str | None:
    """A step argument that may hold no value: empty or the pipeline's `none` mean None."""
    stripped = value.strip()
    return None if not stripped or stripped.lower() == NO_VALUE else stripped


class StepArgumentParser(argparse.ArgumentParser):
    """argparse that raises MlopsError instead of exiting, so in-process runs report it."""

    def error(self, message: str) -> NoReturn:
        raise MlopsError(f"{self.prog}: {message}")


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
