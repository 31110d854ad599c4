"""A batch-scoring job as an MLflow run in the `batch-scoring` experiment: its lineage and speed."""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

from mlflow.entities import Metric, Param, RunStatus

from ml_service.registry.tags import BatchTag, RunTag
from ml_service.tracking.store import Tracking, tracking_call

if TYPE_CHECKING:
    from ml_service.batch.result import BatchRequest, BatchResult


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
    client = tracking.client
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
    params = {
        "model_name": result.model_name,
        "model_version": result.model_version or "(none)",
        "workers": str(result.workers),
        "chunk_rows": str(request.chunk_rows),
        "error_threshold": threshold,
        "score_column": request.score_column,
    }
    metrics = {
        "rows_scored": result.rows_scored,
        "rows_rejected": result.rows_rejected,
        "seconds": result.seconds,
        "rows_per_second": result.rows_per_second,
    }
    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(name, float(value), now, 0) for name, value in metrics.items()],
        params=[Param(name, value) for name, value in params.items()],
    )
    if finish:
        client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))
    return dataclasses.replace(result, run_id=run_id)
