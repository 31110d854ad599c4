"""Logs a batch-scoring run straight into the embedded SQLite tracking store, without MLflow.

Importing MLflow and opening its SQLAlchemy store costs seconds of CPU, more than
scoring a million rows. In the common case (the embedded SQLite store, at a
schema revision this module knows, the `batch-scoring` experiment already in
it) the finished run is written as MLflow's client writes it (`create_run`,
`log_batch`, `set_terminated`: the same rows of `runs`, `tags`, `params`,
`metrics` and `latest_metrics`), in one transaction, so MLflow's client and
`search_runs` read it back as any other run. Any other store, an unknown revision (an
MLflow upgrade) or a first job (no experiment yet) goes through MLflow itself
(`recorder.RunRecorder`). Reading the model registry this way has a twin in
`ml_service.models.resolve`.
"""

from __future__ import annotations

import math
import os
import sqlite3
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from ml_service.batch import EXPERIMENT
from ml_service.batch.record import run_fields
from ml_service.errors import TrackingUnavailableError
from ml_service.registry.tags import RunTag
from ml_service.settings import Env

if TYPE_CHECKING:
    from ml_service.batch.result import BatchRequest, BatchResult

KNOWN_REVISIONS = frozenset({"dc11669786a5"})
"""Schema revisions (MLflow's alembic heads) whose run tables this module writes: MLflow 3.17."""

_MLFLOW_WORKSPACE = "default"
_USER = "unknown"  # what MlflowClient.create_run records as the user
_TIMEOUT_SECONDS = 30.0  # waiting for another writer's lock, as MLflow's own engine does


class SqliteRecorder:
    """Records a job in the embedded store, when `open` finds it fit for that."""

    def __init__(self, database: Path, experiment_id: str, artifact_location: str) -> None:
        self.database = database
        self.experiment_id = experiment_id
        self.artifact_location = artifact_location

    @classmethod
    def open(cls, env: Env) -> SqliteRecorder | None:
        """A recorder for the embedded store, or None when MLflow itself must record."""
        uri = env.tracking_uri
        if not uri.startswith("sqlite:///"):
            return None
        database = Path(uri[len("sqlite:///") :])
        if not database.is_file():
            return None
        if not (os.access(database, os.W_OK) and os.access(database.parent, os.W_OK)):
            return None  # MLflow will say why it cannot be written, before any output
        try:
            with sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True) as db:
                revision = db.execute("SELECT version_num FROM alembic_version").fetchall()
                experiment = db.execute(
                    "SELECT experiment_id, artifact_location FROM experiments "
                    "WHERE workspace = ? AND name = ? AND lifecycle_stage = 'active'",
                    (_MLFLOW_WORKSPACE, EXPERIMENT),
                ).fetchone()
        except sqlite3.Error:
            return None
        if len(revision) != 1 or revision[0][0] not in KNOWN_REVISIONS:
            return None
        if experiment is None or not experiment[1]:
            return None
        return cls(database, str(experiment[0]), str(experiment[1]))

    def check(self) -> None:
        """Nothing to check while the job runs: the store was read when opened."""

    def wait_open(self) -> None:
        """The store is open already."""

    def close(self) -> None:
        """Nothing to let go."""

    def record(
        self, result: BatchResult, request: BatchRequest, threshold: str, started_ms: int
    ) -> str:
        """Write the job as a finished run, in one transaction; its id.

        Raises:
            TrackingUnavailableError: the store could not be written.
        """
        fields = run_fields(result, request, threshold)
        run_id = uuid.uuid4().hex
        now = int(time.time() * 1000)
        artifact_uri = f"{self.artifact_location.rstrip('/')}/{run_id}/artifacts"
        metrics = [
            (name, 0.0 if math.isnan(value) else value, now, 0, int(math.isnan(value)), run_id)
            for name, value in fields.metrics.items()
        ]
        try:
            db = sqlite3.connect(self.database, timeout=_TIMEOUT_SECONDS, isolation_level=None)
            try:
                db.execute("BEGIN IMMEDIATE")
                db.execute(
                    "INSERT INTO runs (run_uuid, name, source_type, source_name, "
                    "entry_point_name, user_id, status, start_time, end_time, source_version, "
                    "lifecycle_stage, artifact_uri, experiment_id, deleted_time) "
                    "VALUES (?, ?, 'UNKNOWN', '', '', ?, 'FINISHED', ?, ?, '', 'active', ?, ?, "
                    "NULL)",
                    (
                        run_id,
                        fields.tags[RunTag.RUN_NAME],
                        _USER,
                        started_ms,
                        now,
                        artifact_uri,
                        int(self.experiment_id),
                    ),
                )
                db.executemany(
                    "INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
                    [(name, value, run_id) for name, value in fields.tags.items()],
                )
                db.executemany(
                    "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
                    [(name, value, run_id) for name, value in fields.params.items()],
                )
                db.executemany(
                    "INSERT INTO metrics (key, value, timestamp, step, is_nan, run_uuid) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    metrics,
                )
                db.executemany(
                    "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    metrics,
                )
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            finally:
                db.close()
        except sqlite3.Error as err:
            raise TrackingUnavailableError(
                f"the scores are in {result.output} but the run could not be recorded: "
                f"sqlite:///{self.database}: {err}"
            ) from err
        return run_id
