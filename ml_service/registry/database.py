"""The project's own database: dataset versions, published pipelines, named locks.

MLflow keeps runs and models; this keeps what MLflow has no place for. It is a
SQLite file in the workspace by default, or any SQLAlchemy URL (MLOPS_REGISTRY_URI);
in team mode it is the tracking server's PostgreSQL database. The schema is
managed by alembic migrations (`migrations/`) whose version table,
`mlops_alembic_version`, is distinct from MLflow's `alembic_version`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
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
    insert,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from ml_service.errors import DatabaseUnreachableError
from ml_service.locks import file_lock
from ml_service.settings import Env
from ml_service.uris import is_database, is_http, mask_password

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "mlops_alembic_version"
# Key of the PostgreSQL advisory lock that serialises concurrent migrations.
_MIGRATION_LOCK_KEY = 0x6D6C6F7073  # "mlops"

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
    # Why a distribution shift was accepted (`data register --accept-shift`); NULL: none was.
    Column("accepted_shift_json", Text, nullable=True),
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

locks = Table(
    "mlops_locks",
    metadata,
    Column("name", String(512), primary_key=True),
    Column("holder", Text, nullable=False),
    Column("locked_at", DateTime(timezone=True), nullable=False),
)


def registry_uri_for(env: Env) -> str:
    """The registry database URL.

    In order: MLOPS_REGISTRY_URI; the database a tracking server recorded
    (`mlops server start`) when MLFLOW_TRACKING_URI is http(s); the tracking
    database itself when MLFLOW_TRACKING_URI is a PostgreSQL/MySQL URL; else a
    SQLite file in the workspace.
    """
    if env.mlops_registry_uri:
        return env.mlops_registry_uri
    if is_http(env.mlflow_tracking_uri):
        from ml_service.team.settings import server_settings

        return server_settings(env.mlflow_tracking_uri).registry_uri
    if is_database(env.mlflow_tracking_uri):
        return env.mlflow_tracking_uri  # type: ignore[return-value]
    return f"sqlite:///{env.workspace / 'registry.db'}"


@cache
def engine_for(url: str) -> Engine:
    """An engine on a reachable database with the schema migrated; one per URL per process.

    Raises:
        DatabaseUnreachableError: the database does not answer or refuses the login.
    """
    if url.startswith("sqlite:"):
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets readers go on while another process registers a version.
            dbapi_connection.execute("PRAGMA journal_mode=WAL")

    else:
        connect_args = {"connect_timeout": 10} if url.startswith("postgres") else {}
        engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    check_reachable(engine, url, "registry database")
    migrate(engine)
    return engine


def check_reachable(engine: Engine, url: str, what: str) -> None:
    """Open one connection, or raise one clear error naming the URL (password masked)."""
    try:
        with engine.connect():
            pass
    except DBAPIError as err:
        engine.dispose()
        reason = str(err.orig).strip().splitlines()[0] if err.orig else type(err).__name__
        raise DatabaseUnreachableError(
            f"cannot reach the {what} {mask_password(url)}: {mask_password(reason)}"
        ) from None


def schema_is_current(connection: Connection) -> bool:
    """Whether the database is at the newest migration (a cheap check, no lock)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory(str(MIGRATIONS)).get_heads())
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return set(context.get_current_heads()) == heads


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration; safe when many processes start at once.

    PostgreSQL serialises concurrent upgrades with an advisory lock held for the
    upgrade's transaction (its DDL is transactional); SQLite with a lock file
    beside the database file.
    """
    with engine.connect() as connection:
        if schema_is_current(connection):
            return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with _migration_lock(engine), engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
            )
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    log.debug("registry database %s migrated", mask_password(str(engine.url)))


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with file_lock(Path(f"{database}.migrate.lock")):
        yield


def lock_row(connection: Connection, name: str) -> None:
    """Take the lock row `name` for the rest of `connection`'s transaction; others wait.

    PostgreSQL holds the updated row's lock, SQLite the database write lock,
    until commit or rollback. A process that dies releases it with its connection.
    """
    holder = f"{socket.gethostname()}:{os.getpid()}"
    now = datetime.now(UTC)
    dialect = connection.dialect.name
    if dialect in ("postgresql", "sqlite"):
        dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        connection.execute(
            dialect_insert(locks)
            .values(name=name, holder=holder, locked_at=now)
            .on_conflict_do_nothing()
        )
    elif not connection.execute(
        update(locks).where(locks.c.name == name).values(holder=holder)
    ).rowcount:
        connection.execute(insert(locks).values(name=name, holder=holder, locked_at=now))
    connection.execute(
        update(locks).where(locks.c.name == name).values(holder=holder, locked_at=now)
    )


@contextlib.contextmanager
def model_lock(engine: Engine, model_name: str) -> Iterator[None]:
    """Hold the lock of registered model `model_name` until the block ends."""
    with engine.begin() as connection:
        lock_row(connection, f"model:{model_name}")
        yield


def registry_engine(env: Env) -> Engine:
    """The engine of the registry database named by the settings."""
    url = registry_uri_for(env)
    if url.startswith("sqlite:"):
        env.workspace.mkdir(parents=True, exist_ok=True)
    return engine_for(url)
