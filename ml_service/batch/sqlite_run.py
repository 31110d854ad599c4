"""Logs a batch-scoring run straight into the embedded SQLite tracking store, without MLflow.

Importing MLflow and opening its SQLAlchemy store costs seconds of CPU, more than
scoring a million rows. In the common case (the embedded SQLite store, at a
schema revision this module knows) the finished run is written as MLflow's
client writes it (`create_run`, `log_batch`, `set_terminated`: the same rows of
`runs`, `tags`, `params`, `metrics` and `latest_metrics`), in one transaction,
so MLflow's client and `search_runs` read it back as any other run. The first
job of a workspace creates the `batch-scoring` experiment in that transaction,
as `ml_service.tracking.store.configure_tracking` would (MLflow's
`create_experiment`: one row of `experiments`, its artifacts in the workspace's
`artifacts/`). Any other store, an unknown revision (an MLflow upgrade), a
store MLflow has not set up (no experiment at all) or a deleted `batch-scoring`
experiment goes through MLflow itself (`recorder.RunRecorder`). Reading the
model registry this way has a twin in `ml_service.models.resolve`.
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
_MAX_ARTIFACT_LOCATION = 2048  # MLflow's MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH default


class SqliteRecorder:
    """Records a job in the embedded store, when `open` finds it fit for that."""

    def __init__(self, database: Path, experiment_id: str | None, artifact_location: str) -> None:
        """`experiment_id` None: the experiment does not exist yet; `record` creates it."""
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
                experiment = _experiment(db)
                set_up = db.execute("SELECT 1 FROM experiments LIMIT 1").fetchone() is not None
        except sqlite3.Error:
            return None
        if len(revision) != 1 or revision[0][0] not in KNOWN_REVISIONS:
            return None
        if experiment is None:
            # MLflow sets a new store up with its Default experiment first: without
            # one, let MLflow do it. Its own check of the artifacts' location, too.
            new_location = _artifact_location(env)
            if not set_up or len(new_location) > _MAX_ARTIFACT_LOCATION:
                return None
            return cls(database, None, new_location)
        experiment_id, artifact_location, stage = experiment
        if stage != "active" or not artifact_location:
            return None  # deleted: MLflow says what to do about it
        return cls(database, str(experiment_id), artifact_location)

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
        metrics = [
            (name, 0.0 if math.isnan(value) else value, now, 0, int(math.isnan(value)), run_id)
            for name, value in fields.metrics.items()
        ]
        try:
            db = sqlite3.connect(self.database, timeout=_TIMEOUT_SECONDS, isolation_level=None)
            try:
                db.execute("BEGIN IMMEDIATE")
                experiment_id, artifact_location = self._experiment_in(db)
                artifact_uri = f"{artifact_location.rstrip('/')}/{run_id}/artifacts"
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
                        experiment_id,
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

    def _experiment_in(self, db: sqlite3.Connection) -> tuple[int, str]:
        """The experiment's id and artifact location, created now if it does not exist yet.

        In the caller's write transaction, so a job that started meanwhile and
        created it is seen here, and two first jobs create it once.
        """
        if self.experiment_id is not None:
            return int(self.experiment_id), self.artifact_location
        experiment = _experiment(db)
        if experiment is not None:
            experiment_id, artifact_location, stage = experiment
            if stage != "active" or not artifact_location:
                raise sqlite3.IntegrityError(
                    f"the {EXPERIMENT} experiment was deleted while the job ran"
                )
            return int(experiment_id), str(artifact_location)
        created = int(time.time() * 1000)
        cursor = db.execute(
            "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, "
            "last_update_time, workspace) VALUES (?, ?, 'active', ?, ?, ?)",
            (EXPERIMENT, self.artifact_location, created, created, _MLFLOW_WORKSPACE),
        )
        assert cursor.lastrowid is not None
        return int(cursor.lastrowid), self.artifact_location


def _experiment(db: sqlite3.Connection) -> tuple[int, str | None, str] | None:
    """The `batch-scoring` experiment's id, artifact location and lifecycle stage, if it exists."""
    row = db.execute(
        "SELECT experiment_id, artifact_location, lifecycle_stage FROM experiments "
        "WHERE workspace = ? AND name = ?",
        (_MLFLOW_WORKSPACE, EXPERIMENT),
    ).fetchone()
    return None if row is None else (int(row[0]), row[1], str(row[2]))


def _artifact_location(env: Env) -> str:
    """Where `configure_tracking` puts a new experiment's artifacts with the embedded store."""
    return (env.workspace / "artifacts").as_uri()
