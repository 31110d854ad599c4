"""What every `mlops` command group shares: a user mistake is one line and exit code 1."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click

from ml_service.errors import MlopsError


class MlopsGroup(click.Group):
    """A click group that turns a user mistake into one line and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MlopsError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(1)


def configure_logging(verbose: bool) -> None:
    """Progress lines on stderr; MLflow's own chatter only with --verbose."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        # MLflow sets its own logger's level when imported; this is how it is told.
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
        for noisy in ("mlflow", "alembic", "urllib3", "git"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
