"""Published pipelines: a definition stored under a name and version, with an id.

Publishing the same definition again returns its id; a changed definition
under the same name and version gets a new id and retires the old one, so a
rebuild on the same build id replaces what it built before.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from ml_service.errors import PipelineNotFoundError
from ml_service.pipelines.definition import PipelineSpec
from ml_service.registry.database import lock_row, published_pipelines

log = logging.getLogger(__name__)

ACTIVE = "active"
RETIRED = "retired"


@dataclass(frozen=True)
class PublishedPipeline:
    """A pipeline definition with the id it was published under."""

    id: str
    spec: PipelineSpec
    created_at: datetime


def publish(engine: Engine, spec: PipelineSpec) -> tuple[PublishedPipeline, bool]:
    """Publish `spec`; returns it with its id, and whether it is new.

    Concurrent publishers of one name and version take turns (a lock row), so
    exactly one active pipeline remains.
    """
    digest = spec.digest()
    table = published_pipelines
    with engine.begin() as connection:
        lock_row(connection, f"pipeline:{spec.name}:{spec.version}")
        same = (
            connection.execute(
                select(table).where(
                    table.c.name == spec.name,
                    table.c.version == spec.version,
                    table.c.digest == digest,
                    table.c.status == ACTIVE,
                )
            )
            .mappings()
            .first()
        )
        # Whatever else is active under this name and version is replaced.
        others = update(table).where(table.c.name == spec.name, table.c.version == spec.version)
        if same is not None:
            connection.execute(others.where(table.c.id != same["id"]).values(status=RETIRED))
            return _to_published(same), False
        connection.execute(others.values(status=RETIRED))
        row = {
            "id": str(uuid.uuid4()),
            "name": spec.name,
            "version": spec.version,
            "digest": digest,
            "definition_json": spec.model_dump_json(),
            "status": ACTIVE,
            "created_at": datetime.now(UTC),
        }
        connection.execute(insert(table).values(**row))
    return _to_published(row), True


def publish_logged(engine: Engine, spec: PipelineSpec) -> PublishedPipeline:
    """Publish `spec` (see `publish`) and log what was published, or found already published."""
    published, created = publish(engine, spec)
    log.info(
        "%s pipeline %s version %s (id %s): %s",
        "published" if created else "already published",
        published.spec.name,
        published.spec.version,
        published.id,
        " → ".join(step.display_name for step in published.spec.steps),
    )
    return published


def find(engine: Engine, name: str, version: str) -> PublishedPipeline:
    """The one active pipeline published as `name` `version`.

    Raises:
        PipelineNotFoundError: none, or more than one.
    """
    table = published_pipelines
    with engine.connect() as connection:
        rows = (
            connection.execute(
                select(table).where(
                    table.c.name == name, table.c.version == version, table.c.status == ACTIVE
                )
            )
            .mappings()
            .all()
        )
        if not rows:
            versions = (
                connection.execute(
                    select(table.c.version).where(table.c.name == name, table.c.status == ACTIVE)
                )
                .scalars()
                .all()
            )
    if not rows:
        hint = (
            f"published versions: {', '.join(sorted(set(versions)))}"
            if versions
            else "build it first: `mlops run` or "
            "`python -m ml_service.pipelines.diabetes_regression_build_train_pipeline`"
        )
        raise PipelineNotFoundError(f"no published pipeline {name!r} version {version!r}; {hint}")
    if len(rows) > 1:
        ids = ", ".join(row["id"] for row in rows)
        raise PipelineNotFoundError(
            f"{len(rows)} published pipelines match {name!r} version {version!r} ({ids}); "
            "publish again to keep one"
        )
    return _to_published(rows[0])


def _to_published(row: Any) -> PublishedPipeline:
    return PublishedPipeline(
        id=row["id"],
        spec=PipelineSpec.model_validate_json(row["definition_json"]),
        created_at=row["created_at"],
    )
