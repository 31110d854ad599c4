"""A batch-scoring job as an MLflow run in the `batch-scoring` experiment: its lineage and speed.

`run_fields` says what the run holds (tags, params, metrics); `record_run` logs
it through MLflow's client, `sqlite_run` straight into the embedded store.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ml_service.registry.tags import BatchTag, RunTag

if TYPE_CHECKING:
    from ml_service.batch.result import BatchRequest, BatchResult
    from ml_service.tracking.store import Tracking


@dataclass(frozen=True)
class RunFields:
    """What a batch-scoring run records."""

    tags: dict[str, str]
    params: dict[str, str]
    metrics: dict[str, float]


def run_fields(result: BatchResult, request: BatchRequest, threshold: str) -> RunFields:
    """The run's tags (its name first), params and metrics for a finished job."""
    version = f" v{result.model_version}" if result.model_version else ""
    tags = {
        RunTag.RUN_NAME: f"batch-score {result.model_name}{version}",
        BatchTag.MODEL_URI: result.model_uri,
        BatchTag.MODEL_NAME: result.model_name,
        BatchTag.MODEL_VERSION: result.model_version,
        BatchTag.INPUT: result.input,
        BatchTag.INPUT_DIGEST: result.input_digest,
        BatchTag.OUTPUT: result.output,
        BatchTag.OUTPUT_DIGEST: result.output_digest,
        BatchTag.REJECTS: result.rejects,
    }
    if result.dataset_ref:
        tags[BatchTag.DATASET] = result.dataset_ref
    params = {
        "model_name": result.model_name,
        "model_version": result.model_version or "(none)",
        "workers": str(result.workers),
        "chunk_rows": str(request.chunk_rows),
        "error_threshold": threshold,
        "score_column": request.score_column,
    }
    metrics = {
        "rows_scored": float(result.rows_scored),
        "rows_rejected": float(result.rows_rejected),
        "seconds": float(result.seconds),
        "rows_per_second": float(result.rows_per_second),
    }
    return RunFields(tags=tags, params=params, metrics=metrics)


def record_run(
    tracking: Tracking,
    result: BatchResult,
    request: BatchRequest,
    threshold: str,
    run_id: str | None = None,
    started_ms: int | None = None,
) -> BatchResult:
    """Log the job as one finished run (or into the open run `run_id`); the result with its id.

    `started_ms`: when the job started (milliseconds since the epoch), the new run's start time.
    """
    from mlflow.entities import Metric, Param, RunStatus

    from ml_service.tracking.store import tracking_call

    client = tracking.client
    fields = run_fields(result, request, threshold)
    tags = dict(fields.tags)
    if run_id is None:
        run = tracking_call(
            tracking.tracking_uri,
            lambda: client.create_run(tracking.experiment_id, start_time=started_ms, tags=tags),
        )
        run_id = run.info.run_id
        finish = True
    else:
        del tags[RunTag.RUN_NAME]
        for name, value in tags.items():
            client.set_tag(run_id, name, value)
        finish = False
    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(name, value, now, 0) for name, value in fields.metrics.items()],
        params=[Param(name, value) for name, value in fields.params.items()],
    )
    if finish:
        client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))
    return dataclasses.replace(result, run_id=run_id)
