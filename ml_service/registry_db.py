"""The project's own database: dataset versions and published pipelines.

MLflow keeps runs and models; this keeps what MLflow has no place for. It is a
SQLite file in the workspace by default, or any SQLAlchemy URL (MLOPS_REGISTRY_URI).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)

from ml_service.util.env_variables import Env

metadata = MetaData()

dataset_versions = Table(
    "mlops_dataset_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("uri", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("schema_json", Text, nullable=False),
    Column("stats_json", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("name", "version", name="uq_dataset_name_version"),
    UniqueConstraint("name", "digest", name="uq_dataset_name_digest"),
)

published_pipelines = Table(
    "mlops_published_pipelines",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("version", String(255), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("definition_json", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def registry_uri_for(env: Env) -> str:
    """The registry database URL: MLOPS_REGISTRY_URI, else a SQLite file in the workspace."""
    if env.mlops_registry_uri:
        return env.mlops_registry_uri
    return f"sqlite:///{env.workspace / 'registry.db'}"


@cache
def engine_for(url: str) -> Engine:
    """An engine with the tables created; one per URL per process."""
    if url.startswith("sqlite:"):
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets readers go on while another process registers a version.
            dbapi_connection.execute("PRAGMA journal_mode=WAL")

    else:
        engine = create_engine(url, pool_pre_ping=True)
    metadata.create_all(engine, checkfirst=True)
    return engine


def registry_engine(env: Env) -> Engine:
    """The engine of the registry database named by the settings."""
    url = registry_uri_for(env)
    if url.startswith("sqlite:"):
        env.workspace.mkdir(parents=True, exist_ok=True)
    return engine_for(url)
