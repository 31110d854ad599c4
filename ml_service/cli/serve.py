"""`mlops serve`: the real-time scoring service."""

from __future__ import annotations

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
def serve_command(model_uri: str | None, host: str, port: int, endpoint: str | None) -> None:
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

        run_endpoint(env, endpoint, host, port)
        return
    run_service(env, model_uri, host, port)
