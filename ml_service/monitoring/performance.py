"""Live performance: ground-truth labels joined to collected predictions by request id.

A labels file (CSV or Parquet) has a `request_id` column (the `x-request-id`
the service answered with), the target column (parameters.json `data.target`),
and, for requests that scored several rows, a `row` column (0-based position in
the request). The metrics (mse, rmse, mae, r2) are computed on the matched rows
of one model version and compared with the metrics its training run recorded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ml_service.data.checks import read_data_file
from ml_service.data.collected import collected_frame
from ml_service.data.datastore import datastore_uri
from ml_service.errors import DataValidationError
from ml_service.registry.tags import RunTag
from ml_service.settings import Env

METRICS = ("mse", "rmse", "mae", "r2")
ROW = "row"
REQUEST_ID = "request_id"


@dataclass(frozen=True)
class PerformanceOutcome:
    """Live metrics of a model version next to its training metrics."""

    model: str
    model_version: str
    matched_rows: int
    unmatched_labels: int
    live: dict[str, float]
    training: dict[str, float]
    run_id: str


def live_metrics(labels: list[float], predictions: list[float]) -> dict[str, float]:
    """mse, rmse, mae and r2 of predictions against labels (scikit-learn's definitions)."""
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    mse = float(mean_squared_error(labels, predictions))
    return {
        "mse": mse,
        "rmse": math.sqrt(mse),
        "mae": float(mean_absolute_error(labels, predictions)),
        "r2": float(r2_score(labels, predictions)) if len(labels) > 1 else math.nan,
    }


def run_performance_check(
    env: Env,
    labels_path: Path,
    model: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> PerformanceOutcome:
    """Join the labels to what the service collected for the model version; log the metrics.

    Raises:
        DataValidationError: the labels file lacks a column, or no label matches a prediction.
        ModelNotFoundError: no such model version.
    """
    import pandas as pd

    from ml_service.monitoring.drift_check import monitoring_experiment, registry_ref
    from ml_service.project.package import model_package
    from ml_service.registry.models import lineage
    from ml_service.tracking.store import configure_tracking

    target = model_package(env).data_checks().target
    labels = read_data_file(labels_path)
    missing = [c for c in (REQUEST_ID, target) if c not in labels.columns]
    if missing:
        raise DataValidationError(
            f"{labels_path}: missing column {', '.join(repr(c) for c in missing)}; a labels file "
            f"has {REQUEST_ID!r}, {target!r} and, for requests of several rows, {ROW!r}"
        )
    client = configure_tracking(env).client
    found = lineage(client, registry_ref(model, env, client))
    scored = collected_frame(datastore_uri(env), found.model, since=since, until=until)
    if scored.empty:
        raise DataValidationError(f"no scored requests were collected for {found.model}")
    scored = scored[scored["model_version"].astype(str) == found.version].copy()
    scored[ROW] = scored.groupby(REQUEST_ID).cumcount()
    labels = labels.copy()
    labels[REQUEST_ID] = labels[REQUEST_ID].astype(str)
    if ROW not in labels.columns:
        several = scored.groupby(REQUEST_ID).size()
        several = several[several > 1]
        if labels[REQUEST_ID].isin(several.index).any():
            raise DataValidationError(
                f"{labels_path}: some requests scored several rows; add a {ROW!r} column "
                "(0-based position of the row in its request)"
            )
        labels[ROW] = 0
    joined = labels.merge(scored, on=[REQUEST_ID, ROW], how="inner", suffixes=("_label", ""))
    if joined.empty:
        raise DataValidationError(
            f"{labels_path}: no label matches a prediction of {found.model} version "
            f"{found.version} (by {REQUEST_ID}); is it the right model version and window?"
        )
    label_column = f"{target}_label" if f"{target}_label" in joined.columns else target
    live = live_metrics(pd.to_numeric(joined[label_column]).tolist(), joined["prediction"].tolist())
    training = {m: float(found.metrics[m]) for m in METRICS if m in found.metrics}

    run = client.create_run(
        monitoring_experiment(client, env),
        run_name=f"Performance {found.model} v{found.version}",
        tags={
            RunTag.MONITORING: "performance",
            RunTag.MONITORED_MODEL: found.model,
            RunTag.MONITORED_VERSION: found.version,
        },
    )
    run_id: str = run.info.run_id
    try:
        client.log_param(run_id, "labels", str(labels_path))
        client.log_metric(run_id, "matched_rows", len(joined))
        for name, value in live.items():
            if math.isfinite(value):
                client.log_metric(run_id, f"live_{name}", value)
        for name, value in training.items():
            client.log_metric(run_id, f"training_{name}", value)
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
    return PerformanceOutcome(
        model=found.model,
        model_version=found.version,
        matched_rows=len(joined),
        unmatched_labels=len(labels) - len(joined),
        live=live,
        training=training,
        run_id=run_id,
    )
