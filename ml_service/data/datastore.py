"""The datastore: where registered data files and collected scoring data live (any fsspec URL).

One resolver for everyone (datasets, the scoring service's data collection,
monitoring), so in team mode they all read and write the team's shared store.
"""

from __future__ import annotations

from typing import Any

import fsspec

from ml_service.settings import Env
from ml_service.uris import is_http


def datastore_uri(env: Env) -> str:
    """The datastore URL or folder.

    In order: MLOPS_DATASTORE_URI; the datastore a tracking server recorded
    (`mlops server start`) when MLFLOW_TRACKING_URI is http(s); `datastore/` in
    the workspace.
    """
    if env.mlops_datastore_uri:
        return env.mlops_datastore_uri.rstrip("/")
    if is_http(env.mlflow_tracking_uri):
        from ml_service.team.settings import server_settings

        return server_settings(env.tracking_uri).datastore_uri.rstrip("/")
    return str(env.workspace / "datastore")


def filesystem(uri: str) -> tuple[Any, str]:
    """The fsspec filesystem of a datastore URL or folder, and the path within it."""
    fs, root = fsspec.core.url_to_fs(uri)
    return fs, root.rstrip("/")


def is_local(fs: Any) -> bool:
    """Whether a filesystem is this machine's disk (files can be appended to)."""
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol in ("file", "local")
