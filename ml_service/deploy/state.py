"""The desired state of the endpoints, kept in the project database, and its history.

`mlops deploy` writes it; the running service of an endpoint polls it and
reconciles to it (`serving/reconcile.py`). Being in the project database
(PostgreSQL in team mode), a teammate's `mlops deploy status` sees the same.
"""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)

from ml_service.registry.database import metadata

endpoints = Table(
    "mlops_endpoints",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("port", Integer, nullable=True),
    Column("key_ref", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

deployments = Table(
    "mlops_deployments",
    metadata,
    Column("endpoint", String(64), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("model_name", String(255), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("model_uri", Text, nullable=False),
    Column("traffic", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("traffic_since", DateTime(timezone=True), nullable=False),
)

history = Table(
    "mlops_deployment_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("endpoint", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", String(32), nullable=False),
    Column("deployment", String(64), nullable=True),
    Column("model_name", String(255), nullable=True),
    Column("model_version", String(64), nullable=True),
    Column("traffic_json", Text, nullable=False),
    Column("smoke_test", String(16), nullable=False),
    Column("detail", Text, nullable=False),
)


@dataclass(frozen=True)
class Deployment:
    """One deployment of an endpoint: a model version and its share of the traffic (percent)."""

    endpoint: str
    name: str
    model_name: str
    model_version: str
    model_uri: str
    traffic: int
    traffic_since: datetime
    created_at: datetime


@dataclass(frozen=True)
class Endpoint:
    """An endpoint: its port on this machine and the reference to its key (never the key)."""

    name: str
    port: int | None
    key_ref: str | None


@dataclass(frozen=True)
class HistoryEntry:
    """One change to an endpoint."""

    at: datetime
    endpoint: str
    actor: str
    action: str
    deployment: str | None
    model_name: str | None
    model_version: str | None
    traffic: dict[str, int]
    smoke_test: str
    detail: str


class DesiredState(Protocol):
    """Where a service reads its endpoint's deployments from."""

    def deployments(self, endpoint: str) -> list[Deployment]:
        """The endpoint's deployments, by name."""
        ...


class FileState:
    """A fixed desired state from a JSON file: what a packaged image serves (`mlops package`).

    The file is `{"deployments": [{"name", "model_name", "model_version",
    "model_uri", "traffic"}, ...]}`; it applies to whichever endpoint is served.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def deployments(self, endpoint: str) -> list[Deployment]:
        """The deployments the file lists."""
        document = json.loads(self.path.read_text(encoding="utf-8"))
        moment = datetime.fromtimestamp(self.path.stat().st_mtime, UTC)
        return [
            Deployment(
                endpoint=endpoint,
                name=item["name"],
                model_name=item["model_name"],
                model_version=str(item["model_version"]),
                model_uri=str((self.path.parent / item["model_uri"]).resolve()),
                traffic=int(item["traffic"]),
                traffic_since=moment,
                created_at=moment,
            )
            for item in document["deployments"]
        ]


def actor() -> str:
    """Who makes a change: the CI build id when there is one (BUILD_BUILDID), else the user."""
    build = os.environ.get("BUILD_BUILDID")
    if build and build != "local":
        return f"build {build}"
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def _aware(moment: datetime) -> datetime:
    # SQLite hands timezone-aware columns back naive.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class DeploymentState:
    """Reads and writes the desired state of endpoints in one database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # Endpoints.
    def endpoint(self, name: str) -> Endpoint | None:
        """The endpoint `name`, or None if it was never deployed to."""
        with self.engine.connect() as connection:
            row = connection.execute(select(endpoints).where(endpoints.c.name == name)).first()
        return None if row is None else Endpoint(row.name, row.port, row.key_ref)

    def endpoints(self) -> list[Endpoint]:
        """Every endpoint, by name."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(endpoints).order_by(endpoints.c.name)).all()
        return [Endpoint(row.name, row.port, row.key_ref) for row in rows]

    def ensure_endpoint(self, name: str, port: int, key_ref: str | None) -> Endpoint:
        """The endpoint `name`, created with `port` if new (an existing one keeps its port)."""
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            row = connection.execute(select(endpoints).where(endpoints.c.name == name)).first()
            if row is None:
                connection.execute(
                    insert(endpoints).values(
                        name=name, port=port, key_ref=key_ref, created_at=now, updated_at=now
                    )
                )
                return Endpoint(name, port, key_ref)
            if row.key_ref != key_ref:
                connection.execute(
                    update(endpoints)
                    .where(endpoints.c.name == name)
                    .values(key_ref=key_ref, updated_at=now)
                )
            return Endpoint(row.name, row.port, key_ref)

    # Deployments.
    def deployments(self, endpoint: str) -> list[Deployment]:
        """The endpoint's deployments, by name."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(deployments)
                .where(deployments.c.endpoint == endpoint)
                .order_by(deployments.c.name)
            ).all()
        return [
            Deployment(
                endpoint=row.endpoint,
                name=row.name,
                model_name=row.model_name,
                model_version=row.model_version,
                model_uri=row.model_uri,
                traffic=row.traffic,
                traffic_since=_aware(row.traffic_since),
                created_at=_aware(row.created_at),
            )
            for row in rows
        ]

    def add_deployment(
        self, endpoint: str, name: str, model_name: str, model_version: str, model_uri: str
    ) -> None:
        """Add deployment `name` with no traffic (the service loads and checks it first)."""
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            connection.execute(
                delete(deployments).where(
                    deployments.c.endpoint == endpoint, deployments.c.name == name
                )
            )
            connection.execute(
                insert(deployments).values(
                    endpoint=endpoint,
                    name=name,
                    model_name=model_name,
                    model_version=model_version,
                    model_uri=model_uri,
                    traffic=0,
                    created_at=now,
                    traffic_since=now,
                )
            )

    def set_traffic(self, endpoint: str, traffic: dict[str, int]) -> None:
        """Give each named deployment its share, in one transaction; others not named go.

        Raises:
            ValueError: the shares do not add up to 100, or name a missing deployment.
        """
        if sum(traffic.values()) != 100 or any(share < 0 for share in traffic.values()):
            raise ValueError(f"traffic shares must be 0-100 and add up to 100: {traffic}")
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            present = set(
                connection.execute(
                    select(deployments.c.name).where(deployments.c.endpoint == endpoint)
                ).scalars()
            )
            missing = set(traffic) - present
            if missing:
                raise ValueError(f"no deployment {sorted(missing)} on endpoint {endpoint}")
            for name in present - set(traffic):
                connection.execute(
                    delete(deployments).where(
                        deployments.c.endpoint == endpoint, deployments.c.name == name
                    )
                )
            for name, share in traffic.items():
                connection.execute(
                    update(deployments)
                    .where(deployments.c.endpoint == endpoint, deployments.c.name == name)
                    .values(traffic=share, traffic_since=now)
                )

    def remove_deployment(self, endpoint: str, name: str) -> None:
        """Drop deployment `name` from the endpoint."""
        with self.engine.begin() as connection:
            connection.execute(
                delete(deployments).where(
                    deployments.c.endpoint == endpoint, deployments.c.name == name
                )
            )

    def clear(self, endpoint: str) -> None:
        """Drop every deployment of the endpoint (it is stopped)."""
        with self.engine.begin() as connection:
            connection.execute(delete(deployments).where(deployments.c.endpoint == endpoint))

    # History.
    def record(
        self,
        endpoint: str,
        action: str,
        *,
        deployment: str | None = None,
        model_name: str | None = None,
        model_version: str | None = None,
        smoke_test: str = "-",
        detail: str = "",
    ) -> None:
        """Append one change to the history, with the traffic split it left."""
        traffic = {d.name: d.traffic for d in self.deployments(endpoint)}
        with self.engine.begin() as connection:
            connection.execute(
                insert(history).values(
                    endpoint=endpoint,
                    at=datetime.now(UTC),
                    actor=actor(),
                    action=action,
                    deployment=deployment,
                    model_name=model_name,
                    model_version=model_version,
                    traffic_json=json.dumps(traffic, sort_keys=True),
                    smoke_test=smoke_test,
                    detail=detail,
                )
            )

    def history(self, endpoint: str | None = None) -> list[HistoryEntry]:
        """Every change, oldest first; only `endpoint`'s when given."""
        query = select(history).order_by(history.c.id)
        if endpoint is not None:
            query = query.where(history.c.endpoint == endpoint)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [
            HistoryEntry(
                at=_aware(row.at),
                endpoint=row.endpoint,
                actor=row.actor,
                action=row.action,
                deployment=row.deployment,
                model_name=row.model_name,
                model_version=row.model_version,
                traffic=json.loads(row.traffic_json),
                smoke_test=row.smoke_test,
                detail=row.detail,
            )
            for row in rows
        ]
