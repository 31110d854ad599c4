"""The `mlops` command: run the pipeline, manage datasets, inspect models."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from ml_service.errors import MlopsError
from ml_service.serving.server import serve_command


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
        for noisy in ("mlflow", "alembic", "urllib3", "git"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


@click.group(cls=MlopsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Show debug logs, MLflow's included.")
def cli(verbose: bool) -> None:
    """MLOps on one machine: versioned data, tracked training, a model registry."""
    configure_logging(verbose)


cli.add_command(serve_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `mlops` console script."""
    cli.main(args=argv, prog_name="mlops")
