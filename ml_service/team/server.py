"""`mlops server start`: an MLflow tracking server whose database also holds the project's registry.

Before MLflow starts, the backend database is checked (one clear error, password
masked, when it cannot be reached), the project's tables are migrated into it,
and the team record (registry and datastore locations, no password) is written,
so teammates only set MLFLOW_TRACKING_URI. The database URI reaches `mlflow
server` through MLFLOW_BACKEND_STORE_URI, not its argument list, so it does not
show in `ps`.
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from ml_service.errors import SettingsError
from ml_service.uris import is_database, mask_password


@dataclass(frozen=True)
class ServerPlan:
    """The `mlflow server` command to run, and what teammates are told."""

    command: list[str]
    environment: dict[str, str]
    tracking_uri: str
    backend_store_uri_masked: str
    artifacts_destination: str
    datastore_uri: str


def artifacts_location(destination: str) -> str:
    """An artifacts destination as a URL or absolute path (a relative folder is made absolute)."""
    if "://" in destination:
        return destination.rstrip("/")
    return str(Path(destination).expanduser().resolve())


def server_command(host: str, port: int, workers: int, artifacts: str) -> list[str]:
    """The `mlflow server` argument list (the backend URI travels in the environment)."""
    return [
        sys.executable, "-m", "mlflow", "server",
        "--serve-artifacts", "--artifacts-destination", artifacts,
        "--host", host, "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip


def prepare_server(
    backend_store_uri: str,
    artifacts_destination: str,
    host: str = "127.0.0.1",
    port: int = 5000,
    workers: int = 1,
    datastore_uri: str | None = None,
) -> ServerPlan:
    """Check and migrate the database and record the team settings; return the command.

    Raises:
        SettingsError: the backend store is not a PostgreSQL (or other server) database URL.
        DatabaseUnreachableError: the database cannot be reached.
    """
    from ml_service.registry.database import engine_for
    from ml_service.team.settings import record_settings

    if not is_database(backend_store_uri):
        raise SettingsError(
            f"--backend-store-uri {mask_password(backend_store_uri)!r} is not a database URL a "
            "team can share; use postgresql://USER@HOST:PORT/DATABASE"
        )
    engine_for(backend_store_uri).dispose()
    artifacts = artifacts_location(artifacts_destination)
    if "://" not in artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
    settings = record_settings(backend_store_uri, datastore_uri or f"{artifacts}/datastore")
    shown_host = socket.gethostname() if host in ("0.0.0.0", "::") else host
    return ServerPlan(
        command=server_command(host, port, workers, artifacts),
        environment={
            # MLflow's GenAI job runners (a handful of huey processes) serve
            # nothing this project uses; a user can still turn them on.
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            **os.environ,
            "MLFLOW_BACKEND_STORE_URI": backend_store_uri,
        },
        tracking_uri=f"http://{shown_host}:{port}",
        backend_store_uri_masked=mask_password(backend_store_uri),
        artifacts_destination=artifacts,
        datastore_uri=settings.datastore_uri,
    )


def exec_server(plan: ServerPlan) -> None:
    """Replace this process with `mlflow server` (signals then reach MLflow directly)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(plan.command[0], plan.command, plan.environment)
