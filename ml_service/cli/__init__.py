"""The `mlops` command: the root group; each command group lives in a module of its own."""

from __future__ import annotations

import click

from ml_service.cli.batch import batch_score_command
from ml_service.cli.bootstrap import bootstrap_command
from ml_service.cli.ci import ci_group
from ml_service.cli.data import data_group
from ml_service.cli.deploy import deploy_group, package_command
from ml_service.cli.group import MlopsGroup, configure_logging
from ml_service.cli.model import model_group
from ml_service.cli.monitor import monitor_group
from ml_service.cli.pipeline import endpoint_group, pipeline_group
from ml_service.cli.retrain import retrain_command, watch_command
from ml_service.cli.run import run_command
from ml_service.cli.serve import serve_command
from ml_service.cli.server import server_group
from ml_service.cli.ui import ui_command


@click.group(cls=MlopsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Show debug logs, MLflow's included.")
def cli(verbose: bool) -> None:
    """MLOps on one machine: versioned data, tracked training, a model registry."""
    configure_logging(verbose)


for command in (
    run_command,
    data_group,
    model_group,
    serve_command,
    ui_command,
    bootstrap_command,
    server_group,
    pipeline_group,
    endpoint_group,
    deploy_group,
    package_command,
    ci_group,
    batch_score_command,
    monitor_group,
    retrain_command,
    watch_command,
):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `mlops` console script."""
    cli.main(args=argv, prog_name="mlops")
