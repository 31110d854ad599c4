"""New data → retrain, each landed file exactly once, across crashes and concurrent watchers.

Folders, in the datastore (which must be a disk this machine can lock files on):

    landing/                  where new CSV or Parquet files are dropped
    retrain/processing/JOB/   a claimed file, while it is processed (JOB.lock beside it)
    retrain/done/JOB/         the file and outcome.json (dataset version, run, champion)
    retrain/quarantine/JOB/   a file that failed the data checks, and reason.txt
    retrain/failed/JOB/       a file whose training pipeline failed RETRAIN_MAX_ATTEMPTS
                              times in a row, and reason.txt (the last error)

How exactly once holds:

- Claim: a watcher takes the lock of a new job (an flock on `JOB.lock`, which
  dies with its process), then renames the landed file into the job's folder.
  A rename is atomic: of two watchers, one gets the file, the other finds it gone.
- Crash: a job folder left in processing/ whose lock nobody holds belongs to a
  dead watcher; the next watcher takes the lock and resumes it.
- Failure: a pipeline that raises leaves the job in processing/ (the error
  stops the command, the next start retries the job first) and counts one
  attempt in `attempts.txt`; at RETRAIN_MAX_ATTEMPTS the job moves to failed/
  instead, so one file that always fails does not block the files after it.
- Resume never trains twice: the dataset registration is idempotent (content
  digest), and the pipeline run carries `retrain:JOB` as its caller run id,
  so a resumed job whose pipeline run already ended reads that run's outcome
  instead of running it again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from ml_service.data.checks import READABLE_SUFFIXES, read_data_file, validate_frame
from ml_service.data.datasets import DatasetRegistry, DatasetVersion
from ml_service.data.datastore import datastore_uri, filesystem, is_local
from ml_service.errors import DataValidationError, MlopsError
from ml_service.settings import Env

log = logging.getLogger(__name__)

LANDING = "landing"
PROCESSING, DONE, QUARANTINE = "retrain/processing", "retrain/done", "retrain/quarantine"
FAILED = "retrain/failed"
OUTCOME_FILE, REASON_FILE = "outcome.json", "reason.txt"
ATTEMPTS_FILE = "attempts.txt"  # failed pipeline attempts so far
DATASET_FILE = "dataset_version.txt"  # written once the job's dataset version is registered
CALLER_PREFIX = "retrain:"


@dataclass(frozen=True)
class RetrainOutcome:
    """What became of one landed file."""

    job: str
    file: str
    status: str  # trained | quarantined | failed
    dataset: str | None = None  # NAME:VERSION registered from it
    pipeline_run_id: str | None = None
    pipeline_status: str | None = None  # completed | cancelled (the challenger was not better)
    new_champion: str | None = None  # the model version that became champion, if any
    reason: str | None = None  # why it was quarantined, or the last error of a failed job
    finished_at: str = ""


@dataclass(frozen=True)
class Folders:
    """The landing and retraining folders of a datastore."""

    root: Path

    @classmethod
    def of(cls, env: Env) -> Folders:
        """The folders in the datastore the settings name.

        Raises:
            MlopsError: the datastore is not on a disk of this machine.
        """
        uri = datastore_uri(env)
        fs, root = filesystem(uri)
        if not is_local(fs):
            raise MlopsError(
                f"retraining needs a datastore on a local or mounted disk (atomic rename, "
                f"file locks); {uri} is not one"
            )
        return cls(Path(root))

    @property
    def landing(self) -> Path:
        return self.root / LANDING

    @property
    def processing(self) -> Path:
        return self.root / PROCESSING

    @property
    def done(self) -> Path:
        return self.root / DONE

    @property
    def quarantine(self) -> Path:
        return self.root / QUARANTINE

    @property
    def failed(self) -> Path:
        return self.root / FAILED

    def make(self) -> None:
        """Create the folders (landing included, so users see where to drop files)."""
        for folder in (self.landing, self.processing, self.done, self.quarantine, self.failed):
            folder.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def _job_lock(folders: Folders, job: str, wait: bool = False) -> Iterator[bool]:
    """Hold JOB.lock for the block; yields False at once when another process holds it."""
    path = folders.processing / f"{job}.lock"
    handle: IO[bytes]
    with path.open("a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _new_files(folders: Folders) -> list[Path]:
    """Landed data files, oldest first (dot-files and partial uploads are skipped)."""
    files = []
    for path in folders.landing.iterdir():
        if path.name.startswith(".") or path.suffix.lower() not in READABLE_SUFFIXES:
            continue
        try:
            files.append((path.stat().st_mtime, path.name, path))
        except FileNotFoundError:  # another watcher claimed it meanwhile
            continue
    return [path for _, _, path in sorted(files)]


def _job_file(job_dir: Path) -> Path | None:
    """The landed file of a job (files the job makes itself live in subfolders)."""
    found = sorted(
        p for p in job_dir.iterdir() if p.is_file() and p.suffix.lower() in READABLE_SUFFIXES
    )
    return found[0] if found else None


def retrain_if_new_data(env: Env) -> list[RetrainOutcome]:
    """Process every orphaned job (a watcher died) and every landed file, one at a time.

    Returns:
        The outcome of each job this call finished, in order.
    """
    folders = Folders.of(env)
    folders.make()
    outcomes = []
    for job_dir in sorted(p for p in folders.processing.iterdir() if p.is_dir()):
        job = job_dir.name
        with _job_lock(folders, job) as mine:
            if not mine or not job_dir.is_dir():
                continue  # a live watcher has it, or it finished meanwhile
            log.info("resuming job %s, left unfinished by a watcher that stopped", job)
            outcomes.append(_process(env, folders, job))
        _forget_lock(folders, job)
    for path in _new_files(folders):
        job = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}"
        with _job_lock(folders, job, wait=True):
            job_dir = folders.processing / job
            job_dir.mkdir()
            try:
                os.rename(path, job_dir / path.name)
            except FileNotFoundError:
                job_dir.rmdir()  # another watcher claimed it first
            else:
                log.info("claimed %s as job %s", path.name, job)
                outcomes.append(_process(env, folders, job))
        _forget_lock(folders, job)
    return outcomes


def _forget_lock(folders: Folders, job: str) -> None:
    if not (folders.processing / job).exists():
        with contextlib.suppress(FileNotFoundError):
            (folders.processing / f"{job}.lock").unlink()


def _process(env: Env, folders: Folders, job: str) -> RetrainOutcome:
    """Validate, register, train on one claimed job; move it to done/ or quarantine/."""
    job_dir = folders.processing / job
    data_file = _job_file(job_dir)
    if data_file is None:  # claimed but the file is gone: nothing to train on
        return _finish(folders, job, _quarantined(job, "?", "the job folder holds no data file"))
    try:
        dataset = _register(env, job_dir, data_file)
    except DataValidationError as err:
        return _finish(folders, job, _quarantined(job, data_file.name, str(err)))
    try:
        outcome = _train(env, job, data_file.name, dataset)
    except Exception as err:
        attempts = _count_failure(job_dir)
        if attempts < env.retrain_max_attempts:
            log.error(
                "job %s (%s): training failed (attempt %d of %d); it is retried at the next "
                "start: %s",
                job,
                data_file.name,
                attempts,
                env.retrain_max_attempts,
                err,
            )
            raise
        reason = f"training failed {attempts} times; last error: {err}"
        failed = RetrainOutcome(
            job=job,
            file=data_file.name,
            status="failed",
            dataset=dataset.ref,
            reason=reason,
            finished_at=_now(),
        )
        return _finish(folders, job, failed)
    return _finish(folders, job, outcome)


def _count_failure(job_dir: Path) -> int:
    """Add one failed attempt to the job's count; return the count."""
    path = job_dir / ATTEMPTS_FILE
    try:
        attempts = int(path.read_text(encoding="utf-8")) + 1
    except (FileNotFoundError, ValueError):
        attempts = 1
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(f"{attempts}\n", encoding="utf-8")
    partial.replace(path)
    return attempts


def _quarantined(job: str, file: str, reason: str) -> RetrainOutcome:
    return RetrainOutcome(
        job=job, file=file, status="quarantined", reason=reason, finished_at=_now()
    )


def _register(env: Env, job_dir: Path, data_file: Path) -> DatasetVersion:
    """The dataset version of a landed file: the file itself (replace) or latest + file (append).

    Raises:
        DataValidationError: the file fails the schema or the distribution check.
    """
    import pandas as pd

    from ml_service.project.package import model_package

    registry = DatasetRegistry.from_env(env)
    registered = job_dir / DATASET_FILE
    if registered.is_file():  # registered before a crash: resume after the registration
        return registry.get(env.dataset_name, int(registered.read_text(encoding="utf-8")))
    checks = model_package(env).data_checks()
    latest = registry.list_versions(env.dataset_name)
    if env.retrain_dataset_policy == "replace" or not latest:
        version, _ = registry.register(env.dataset_name, data_file, checks)
        registered.write_text(str(version.version), encoding="utf-8")
        return version
    reference = latest[-1]
    valid = validate_frame(
        read_data_file(data_file), checks, data_file.name, reference.stats, reference.ref
    )
    combined = pd.concat([registry.load(reference)[checks.columns], valid], ignore_index=True)
    (job_dir / "append").mkdir(exist_ok=True)
    path = job_dir / "append" / f"{data_file.stem}-appended-to-{reference.version}.csv"
    partial = path.with_name(f".{path.name}.partial")
    combined.to_csv(partial, index=False)
    partial.replace(path)
    version, _ = registry.register(env.dataset_name, path, checks, check_distribution=False)
    registered.write_text(str(version.version), encoding="utf-8")
    return version


def _train(env: Env, job: str, file: str, dataset: DatasetVersion) -> RetrainOutcome:
    """Run the published training pipeline on the dataset version, unless this job already did."""
    from ml_service.pipelines.local_orchestrator import CANCELLED, COMPLETED
    from ml_service.pipelines.training import build_and_publish, run_published
    from ml_service.registry.models import get_alias
    from ml_service.registry.tags import Alias, RunTag, VersionTag
    from ml_service.tracking.store import configure_tracking

    tracking = configure_tracking(env)
    caller = f"{CALLER_PREFIX}{job}"
    earlier = [
        run
        for run in tracking.client.search_runs(
            [tracking.experiment_id], filter_string=f"tags.`{RunTag.CALLER_RUN_ID}` = '{caller}'"
        )
        # The pipeline run (its Train step records the caller too), ended: completed or cancelled.
        if RunTag.PIPELINE_ID in run.data.tags and run.info.status in ("FINISHED", "KILLED")
    ]
    if earlier:
        run_id = earlier[0].info.run_id
        status = COMPLETED if earlier[0].info.status == "FINISHED" else CANCELLED
        log.info("job %s: its pipeline run %s already ended (%s)", job, run_id, status)
    else:
        published = build_and_publish(env)
        result = run_published(
            env,
            published,
            {"dataset_version": str(dataset.version), "caller_run_id": caller},
            description=f"retraining on {dataset.ref}, landed as {file}",
        )
        run_id, status = result.run_id, result.status
    champion = get_alias(tracking.client, env.model_name, Alias.CHAMPION)
    new_champion = None
    if champion is not None and (champion.tags or {}).get(VersionTag.PIPELINE_RUN_ID) == run_id:
        new_champion = f"{env.model_name}:{champion.version}"
    return RetrainOutcome(
        job=job,
        file=file,
        status="trained",
        dataset=dataset.ref,
        pipeline_run_id=run_id,
        pipeline_status=status,
        new_champion=new_champion,
        finished_at=_now(),
    )


def _finish(folders: Folders, job: str, outcome: RetrainOutcome) -> RetrainOutcome:
    """Write the outcome into the job folder, then move the folder to done/ or quarantine/."""
    job_dir = folders.processing / job
    record = json.dumps(asdict(outcome), indent=2) + "\n"
    (job_dir / OUTCOME_FILE).write_text(record, encoding="utf-8")
    if outcome.status in ("quarantined", "failed"):
        (job_dir / REASON_FILE).write_text((outcome.reason or "") + "\n", encoding="utf-8")
        target = (
            folders.quarantine / job if outcome.status == "quarantined" else folders.failed / job
        )
    else:
        target = folders.done / job
    os.rename(job_dir, target)
    log.info("job %s (%s): %s", job, outcome.file, describe(outcome))
    return outcome


def describe(outcome: RetrainOutcome) -> str:
    """One line saying what became of a landed file."""
    if outcome.status == "quarantined":
        return f"quarantined: {outcome.reason}"
    if outcome.status == "failed":
        return (
            f"set aside in {FAILED}/{outcome.job}/ ({outcome.dataset}): {outcome.reason}; "
            f"move the file back to {LANDING}/ to try again"
        )
    champion = (
        f"new champion {outcome.new_champion}"
        if outcome.new_champion
        else "no new champion (the challenger was not better)"
    )
    return (
        f"registered {outcome.dataset}, pipeline run {outcome.pipeline_run_id} "
        f"{outcome.pipeline_status}: {champion}"
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class DriftRetrainOutcome:
    """What `--on-drift` did: the drift verdict and, when it retrained, the training's outcome."""

    verdict: str
    message: str
    report: str
    trained: RetrainOutcome | None


def retrain_on_drift(env: Env, model: str | None = None) -> DriftRetrainOutcome:
    """Run the drift check; on drift, train on the latest DATASET_NAME version when it is
    newer than the data the model was trained on (retraining on the same data changes nothing).
    """
    from ml_service.monitoring.drift import Verdict
    from ml_service.monitoring.drift_check import run_drift_check

    check = run_drift_check(env, model)
    verdict = check.result.verdict
    if verdict is not Verdict.DRIFT:
        return DriftRetrainOutcome(
            verdict.value, check.result.message, str(check.html_path), trained=None
        )
    registry = DatasetRegistry.from_env(env)
    latest = registry.get(env.dataset_name)
    trained_on = registry.get(*check.reference.split(":", 1))
    if latest.name == trained_on.name and latest.version <= trained_on.version:
        return DriftRetrainOutcome(
            verdict.value,
            f"{check.result.message}; no data newer than {check.reference}, which the model "
            "was trained on: land new data (retrain --if-new-data) to retrain",
            str(check.html_path),
            trained=None,
        )
    job = f"drift-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}"
    trained = _train(env, job, f"drift in {check.model}:{check.model_version}", latest)
    return DriftRetrainOutcome(
        verdict.value, check.result.message, str(check.html_path), trained=trained
    )
