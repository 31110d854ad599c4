"""`mlops model`: list registered models, trace a version's lineage."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ml_service.cli.group import MlopsGroup

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


@click.group("model", cls=MlopsGroup)
def model_group() -> None:
    """Registered models: list them, trace their lineage."""


def _tracking_client() -> MlflowClient:
    from ml_service.settings import load_env
    from ml_service.tracking.store import configure_tracking

    return configure_tracking(load_env()).client


@model_group.command("list")
def model_list() -> None:
    """List registered models with their newest version and aliases."""
    from ml_service.cli import render
    from ml_service.registry.models import list_models

    click.echo(render.model_table(list_models(_tracking_client())))


@model_group.command("lineage")
@click.argument("ref", metavar="NAME[:VERSION|@ALIAS]")
def model_lineage(ref: str) -> None:
    """Trace a model version to its run, dataset version and digest, commit and build."""
    from ml_service.cli import render
    from ml_service.registry.models import lineage

    click.echo(render.lineage_text(lineage(_tracking_client(), ref)))
