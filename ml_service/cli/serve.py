"""`mlops serve`: the real-time scoring service."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("serve")
@click.option(
    "--model",
    "model_uri",
    default=None,
    help="MLflow model URI, e.g. models:/diabetes_regression_model@champion "
    "[default: @production if set, else @champion].",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--endpoint",
    default=None,
    envvar="MLOPS_ENDPOINT",
    help="Serve this endpoint's deployments (see `mlops deploy`), following its desired "
    "state [env: MLOPS_ENDPOINT].",
)
@click.option(
    "--state-file",
    default=None,
    envvar="MLOPS_ENDPOINT_STATE_FILE",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With --endpoint: serve the deployments this JSON file lists instead of the project "
    "database's (a packaged image) [env: MLOPS_ENDPOINT_STATE_FILE].",
)
def serve_command(
    model_uri: str | None, host: str, port: int, endpoint: str | None, state_file: Path | None
) -> None:
    """Serve a registered model over HTTP: Azure ML's /score and MLflow's /invocations."""
    from ml_service.errors import SettingsError
    from ml_service.serving.server import run_service
    from ml_service.settings import load_env

    env = load_env()
    if port == 0:
        raise SettingsError("--port: give a port number, 0 is not served")
    if endpoint is not None:
        if model_uri is not None:
            raise SettingsError("--model and --endpoint: give one (an endpoint names its models)")
        from ml_service.serving.endpoint import run_endpoint

        run_endpoint(env, endpoint, host, port, state_file)
        return
    run_service(env, model_uri, host, port)
