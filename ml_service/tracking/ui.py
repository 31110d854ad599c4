"""The MLflow UI on the workspace's tracking store: `mlops ui` and `make ui`.

The command is built by a pure function, so the browser test starts exactly
what a person starts.
"""

from __future__ import annotations

import subprocess
import sys

from ml_service.settings import Env

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000


def ui_command(env: Env, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> list[str]:
    """`mlflow ui` on the tracking store and model registry the settings name.

    With the embedded default, artifacts of new runs go to `artifacts/` in the
    workspace, like the pipeline's, and the UI reads them from there.
    """
    uri = env.tracking_uri
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        uri,
        "--registry-store-uri",
        uri,
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    if uri.startswith("sqlite:"):
        command += ["--default-artifact-root", (env.workspace / "artifacts").as_uri()]
    return command


def run_ui(env: Env, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> int:
    """Serve the UI in the foreground until interrupted; returns the server's exit code."""
    try:
        return subprocess.run(ui_command(env, host, port), check=False).returncode
    except KeyboardInterrupt:
        return 0
