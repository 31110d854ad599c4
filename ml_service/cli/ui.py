"""`mlops ui`: the MLflow UI on the workspace."""

from __future__ import annotations

import sys

import click


@click.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
def ui_command(host: str, port: int) -> None:
    """Open the MLflow UI on the workspace: experiments, runs, registered models."""
    from ml_service.settings import load_env
    from ml_service.tracking.store import configure_tracking
    from ml_service.tracking.ui import run_ui

    env = load_env()
    configure_tracking(env)
    click.echo(f"MLflow UI on http://{host}:{port} (Ctrl-C stops it)", err=True)
    sys.exit(run_ui(env, host, port))
