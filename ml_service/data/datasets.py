"""Versioned datasets: a file registered under a name becomes an immutable version.

The content is copied into the datastore (any fsspec URL) under its SHA-256
digest, and the version's row in the registry database carries the digest,
row count, schema and per-column statistics. Identical content registered
again returns the existing version; concurrent registrations are serialised
by the database's unique constraints and retried.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from ml_service.data import datastore
from ml_service.data.checks import (
    DataChecks,
    check_schema,
    column_statistics,
    distribution_problems,
    read_data_file,
    read_data_file_path,
    schema_of,
)
from ml_service.errors import DatasetNotFoundError, DataValidationError, MlopsError
from ml_service.registry.database import dataset_versions, registry_engine
from ml_service.settings import Env

log = logging.getLogger(__name__)

LATEST = "latest"
_REGISTER_ATTEMPTS = 20


@dataclass(frozen=True)
class DatasetVersion:
    """One immutable version of a named dataset."""

    name: str
    version: int
    digest: str
    uri: str
    source: str
    rows: int
    schema: dict[str, str]
    stats: dict[str, dict[str, float]]
    created_at: datetime
    accepted_shift: AcceptedShift | None = None

    @property
    def ref(self) -> str:
        """`name:version`, as the CLI and the lineage show it."""
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class AcceptedShift:
    """A distribution shift deliberately accepted when a version was registered: its lineage."""

    reason: str
    reference: str  # the version the shift was measured against, NAME:VERSION
    problems: list[str]  # what the distribution check found
    accepted_by: str
    accepted_at: str

    def to_json(self) -> str:
        """The record as stored on the version's row."""
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> AcceptedShift:
        """A record read from a version's row."""
        return cls(**json.loads(text))


def parse_dataset_ref(ref: str) -> tuple[str, str]:
    """Split `NAME[:VERSION]` into name and version (`latest` when omitted)."""
    name, _, version = ref.partition(":")
    if not name:
        raise DatasetNotFoundError(f"dataset reference {ref!r} has no name; use NAME[:VERSION]")
    return name, version or LATEST


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class DatasetRegistry:
    """Register, look up and load dataset versions."""

    def __init__(self, engine: Engine, datastore_uri: str) -> None:
        self._engine = engine
        self._datastore_uri = datastore_uri.rstrip("/")

    @classmethod
    def from_env(cls, env: Env) -> DatasetRegistry:
        """The registry of the workspace (or shared database) named by the settings."""
        return cls(registry_engine(env), datastore.datastore_uri(env))

    # -- reading -------------------------------------------------------------

    def list_versions(self, name: str | None = None) -> list[DatasetVersion]:
        """All versions, of one dataset or of all, ordered by name and version."""
        query = select(dataset_versions).order_by(
            dataset_versions.c.name, dataset_versions.c.version
        )
        if name is not None:
            query = query.where(dataset_versions.c.name == name)
        with self._engine.connect() as connection:
            return [_to_version(row) for row in connection.execute(query).mappings()]

    def get(self, name: str, version: str | int = LATEST) -> DatasetVersion:
        """A version by number, or the latest one.

        Raises:
            DatasetNotFoundError: the name has no versions, or not that one.
        """
        query = select(dataset_versions).where(dataset_versions.c.name == name)
        if str(version) == LATEST:
            query = query.order_by(dataset_versions.c.version.desc()).limit(1)
        else:
            number = _version_number(version)
            query = query.where(dataset_versions.c.version == number)
        with self._engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        if row is None:
            known = [v.version for v in self.list_versions(name)]
            if not known:
                raise DatasetNotFoundError(
                    f"dataset {name!r} has no versions; register one with "
                    f"`mlops data register --name {name} --path FILE`"
                )
            raise DatasetNotFoundError(
                f"dataset {name!r} has no version {version}; versions: "
                + ", ".join(map(str, known))
            )
        return _to_version(row)

    def find_by_digest(self, name: str, digest: str) -> DatasetVersion | None:
        """The version of `name` with this content, if any."""
        query = select(dataset_versions).where(
            dataset_versions.c.name == name, dataset_versions.c.digest == digest
        )
        with self._engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return None if row is None else _to_version(row)

    def load(self, version: DatasetVersion) -> pd.DataFrame:
        """The content of a version as a data frame."""
        with fsspec.open(version.uri, "rb") as handle:
            data = handle.read()
        if version.uri.endswith(".parquet"):
            return pd.read_parquet(io.BytesIO(data))
        return pd.read_csv(io.BytesIO(data))

    # -- writing -------------------------------------------------------------

    def register(
        self,
        name: str,
        path: str | Path,
        checks: DataChecks,
        check_distribution: bool = True,
        accept_shift_reason: str | None = None,
    ) -> tuple[DatasetVersion, bool]:
        """Validate a file and register it as the next version of `name`.

        The file is checked against the schema and, when `name` already has
        versions, against the latest one's statistics; a file that fails is
        neither copied nor registered.

        Args:
            accept_shift_reason: register the file even when its distribution
                moved too far from the latest version's, and keep this reason,
                the problems found and who accepted them on the new version.
                Only the distribution check can be accepted, never the schema.

        Returns:
            The version, and whether it was created (False: identical content
            was already registered, and that version is returned).

        Raises:
            DataValidationError: the file fails the data checks.
        """
        if accept_shift_reason is not None and not accept_shift_reason.strip():
            raise DataValidationError(
                "accepting a distribution shift needs a reason: say why the new data is right"
            )
        _check_name(name)
        path = Path(path)
        # A file whose bytes are registered already passed these checks: it is not parsed again.
        digest = file_digest(read_data_file_path(path))
        existing = self.find_by_digest(name, digest)
        if existing is not None:
            return existing, False
        frame = read_data_file(path)
        valid = check_schema(frame, checks, str(path))
        accepted = None
        latest = self.list_versions(name) if check_distribution else []
        if latest:
            reference = latest[-1]
            problems = distribution_problems(column_statistics(valid), reference.stats, checks)
            if problems and accept_shift_reason is None:
                raise DataValidationError(
                    f"{path}: distribution differs from {reference.ref}: "
                    + "; ".join(problems)
                    + "; if the shift is real and wanted, register it with "
                    "`mlops data register --accept-shift --reason TEXT`"
                )
            if problems and accept_shift_reason is not None:
                accepted = AcceptedShift(
                    reason=accept_shift_reason.strip(),
                    reference=reference.ref,
                    problems=problems,
                    accepted_by=_who(),
                    accepted_at=datetime.now(UTC).isoformat(timespec="seconds"),
                )

        uri = self._store(name, digest, path)
        record = {
            "name": name,
            "digest": digest,
            "uri": uri,
            "source": str(path),
            "rows": len(valid),
            "schema_json": json.dumps(schema_of(frame)),
            "stats_json": json.dumps(column_statistics(valid)),
            "accepted_shift_json": accepted.to_json() if accepted else None,
        }
        return self._insert_next_version(record)

    def _store(self, name: str, digest: str, path: Path) -> str:
        """Copy the file into the datastore under its digest; same content, same place."""
        fs, root = datastore.filesystem(self._datastore_uri)
        folder = f"{root}/datasets/{name}/sha256-{digest}"
        target = f"{folder}/{path.name}"
        if not fs.exists(target):
            fs.makedirs(folder, exist_ok=True)
            partial = f"{target}.partial-{uuid.uuid4().hex}"
            fs.put_file(str(path), partial)
            fs.mv(partial, target)
        return str(fs.unstrip_protocol(target))

    def _insert_next_version(self, record: dict[str, Any]) -> tuple[DatasetVersion, bool]:
        for _ in range(_REGISTER_ATTEMPTS):
            try:
                with self._engine.begin() as connection:
                    current = connection.execute(
                        select(func.max(dataset_versions.c.version)).where(
                            dataset_versions.c.name == record["name"]
                        )
                    ).scalar()
                    version = (current or 0) + 1
                    connection.execute(
                        insert(dataset_versions).values(
                            **record, version=version, created_at=datetime.now(UTC)
                        )
                    )
            except (IntegrityError, OperationalError) as err:
                # Another process took this version number or this content first.
                log.debug("dataset registration raced, retrying: %s", err)
                existing = self.find_by_digest(record["name"], record["digest"])
                if existing is not None:
                    return existing, False
                continue
            log.info("registered dataset %s:%d (%d rows)", record["name"], version, record["rows"])
            return self.get(record["name"], version), True
        raise MlopsError(
            f"could not register dataset {record['name']!r}: the registry stayed busy; try again"
        )


def dataset_to_train_on(
    registry: DatasetRegistry,
    name: str,
    version: str,
    data_file_path: str | None,
    checks: DataChecks,
) -> DatasetVersion:
    """The dataset version a pipeline trains on: `data_file_path` registered first when given
    (or the version that already holds its content), else `name:version`.

    Raises:
        DataValidationError: the file fails the data checks.
        DatasetNotFoundError: no such version.
    """
    if data_file_path:
        found, created = registry.register(name, data_file_path, checks)
        if not created:
            log.info("  %s has the same content as dataset %s", data_file_path, found.ref)
        return found
    return registry.get(name, version)


def _who() -> str:
    """`user@host` of this process, for records of who did what."""
    import getpass

    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name (some containers)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _check_name(name: str) -> None:
    if not name or any(c in name for c in "/\\:") or name.strip() != name:
        raise MlopsError(
            f"invalid dataset name {name!r}: use letters, digits, '-', '_' or '.', "
            "without ':' or slashes"
        )


def _version_number(version: str | int) -> int:
    try:
        number = int(version)
    except ValueError:
        number = 0
    if number < 1:
        raise DatasetNotFoundError(
            f"invalid dataset version {version!r}: use a number from 1, or {LATEST!r}"
        )
    return number


def _to_version(row: Any) -> DatasetVersion:
    return DatasetVersion(
        name=row["name"],
        version=row["version"],
        digest=row["digest"],
        uri=row["uri"],
        source=row["source"],
        rows=row["rows"],
        schema=json.loads(row["schema_json"]),
        stats=json.loads(row["stats_json"]),
        created_at=row["created_at"],
        accepted_shift=(
            AcceptedShift.from_json(row["accepted_shift_json"])
            if row["accepted_shift_json"]
            else None
        ),
    )
