"""A drift check of one model version: find its training data, compare, report, log to MLflow.

The reference is the dataset version the model was trained on, found through
the model version's lineage tags; the current data is what the scoring service
collected for that very version (other versions' traffic is left out), within
an optional window of days. The model's predictions on the reference are the
reference for the predictions the service made.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ml_service.data.collected import collected_frame
from ml_service.data.datasets import DatasetRegistry, parse_dataset_ref
from ml_service.data.datastore import datastore_uri
from ml_service.errors import MlopsError, ModelNotFoundError, SettingsError
from ml_service.monitoring.drift import DriftChecks, DriftResult, compare
from ml_service.monitoring.report import ReportContext, write_report
from ml_service.project.package import model_package
from ml_service.registry.tags import Alias, RunTag
from ml_service.settings import Env

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)

PREDICTION = "prediction"


@dataclass(frozen=True)
class DriftCheckOutcome:
    """What a drift check found and where it put the report."""

    result: DriftResult
    model: str
    model_version: str
    reference: str
    html_path: Path
    json_path: Path
    run_id: str


def drift_checks(env: Env) -> DriftChecks:
    """The `monitoring` section of the model package's parameters.json.

    Raises:
        SettingsError: the model package has no `monitoring` section of DriftChecks.
    """
    package = model_package(env)
    checks = getattr(package.load_parameters(), "monitoring", None)
    if not isinstance(checks, DriftChecks):
        raise SettingsError(
            f"{package.parameters_path}: no `monitoring` section; add one with min_rows, bins, "
            "psi_threshold and ks_p_value (see docs/monitoring.md)"
        )
    return checks


def registry_ref(model: str | None, env: Env, client: MlflowClient) -> str:
    """`NAME:VERSION` or `NAME@ALIAS` from a model URI or reference.

    None means what the service serves by default: MODEL_NAME@production if set,
    else @champion.
    """
    from ml_service.registry.models import get_alias

    if model is None:
        alias = Alias.PRODUCTION
        if get_alias(client, env.model_name, alias) is None:
            alias = Alias.CHAMPION
        return f"{env.model_name}@{alias}"
    if model.startswith("models:/"):
        rest = model.removeprefix("models:/").rstrip("/")
        name, _, version = rest.partition("/")
        return f"{name}:{version}" if version else rest
    return model


def reference_frame(
    env: Env, client: MlflowClient, ref: str
) -> tuple[str, str, str, pd.DataFrame, list[str]]:
    """The model version's name, version, training dataset ref, that data with the model's
    predictions, and the feature columns.

    Raises:
        ModelNotFoundError: no such model version, or it records no training dataset.
    """
    import numpy as np

    from ml_service.models.load import load_model
    from ml_service.models.resolve import resolve_model_uri
    from ml_service.registry.models import lineage

    found = lineage(client, ref)
    if not found.dataset:
        raise ModelNotFoundError(
            f"model {found.model} version {found.version} records no training dataset "
            "(tag dataset_name); only models trained by the pipeline can be checked for drift"
        )
    name, version = parse_dataset_ref(found.dataset)
    datasets = DatasetRegistry.from_env(env)
    dataset = datasets.get(name, version)
    frame = datasets.load(dataset)
    model = load_model(resolve_model_uri(f"models:/{found.model}/{found.version}", env))
    features = list(model.features)
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise MlopsError(f"dataset {dataset.ref} lacks the model's features {', '.join(missing)}")
    frame = frame.copy()
    frame[PREDICTION] = model.predict(frame[features].to_numpy(dtype=np.float64))
    return found.model, found.version, dataset.ref, frame, features


def run_drift_check(
    env: Env,
    model: str | None = None,
    since: date | None = None,
    until: date | None = None,
    out_dir: Path | None = None,
) -> DriftCheckOutcome:
    """Compare what the service collected for a model version with its training data.

    Writes the HTML report and JSON summary into `out_dir` (default:
    `monitoring/<model>-v<version>-<time>/` in the workspace) and logs both,
    with one metric per column, to an MLflow run in the experiment
    `<EXPERIMENT_NAME>-monitoring`.

    Raises:
        ModelNotFoundError: the model, version or alias does not exist, or has no lineage.
        SettingsError: parameters.json has no `monitoring` section.
    """
    from ml_service.tracking.store import configure_tracking

    if since and until and since > until:
        raise MlopsError(f"--since {since} is after --until {until}; no day is in the window")
    checks = drift_checks(env)
    tracking = configure_tracking(env)
    client = tracking.client
    name, version, reference_ref, reference, features = reference_frame(
        env, client, registry_ref(model, env, client)
    )
    current = collected_frame(datastore_uri(env), name, since=since, until=until)
    if not current.empty:
        current = current[current["model_version"].astype(str) == version]
    log.info(
        "comparing %d rows scored by %s version %s with %d rows of %s",
        len(current), name, version, len(reference), reference_ref,
    )  # fmt: skip
    result = compare(reference, current, [*features, PREDICTION], checks)

    now = datetime.now(UTC)
    context = ReportContext(
        model=name,
        model_version=version,
        reference=reference_ref,
        since=since.isoformat() if since else None,
        until=until.isoformat() if until else None,
        created_at=now.isoformat(timespec="seconds"),
    )
    if out_dir is None:
        out_dir = env.workspace / "monitoring" / f"{name}-v{version}-{now:%Y%m%dT%H%M%S%f}"
    html_path, json_path = write_report(result, context, out_dir)
    run_id = _log_run(client, env, result, context, html_path, json_path)
    return DriftCheckOutcome(
        result=result,
        model=name,
        model_version=version,
        reference=reference_ref,
        html_path=html_path,
        json_path=json_path,
        run_id=run_id,
    )


def monitoring_experiment(client: MlflowClient, env: Env) -> str:
    """The id of the experiment `<EXPERIMENT_NAME>-monitoring`, created when missing."""
    from mlflow.exceptions import MlflowException

    experiment_name = f"{env.experiment_name}-monitoring"
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is not None:
        return str(experiment.experiment_id)
    artifacts = (env.workspace / "artifacts").as_uri()
    location = artifacts if env.tracking_uri.startswith("sqlite:") else None
    try:
        return str(client.create_experiment(experiment_name, artifact_location=location))
    except MlflowException:  # another check created it meanwhile
        found = client.get_experiment_by_name(experiment_name)
        if found is None:
            raise
        return str(found.experiment_id)


def _log_run(
    client: MlflowClient,
    env: Env,
    result: DriftResult,
    context: ReportContext,
    html_path: Path,
    json_path: Path,
) -> str:
    """One MLflow run holding the verdict, the statistics and both files."""
    experiment_id = monitoring_experiment(client, env)
    run = client.create_run(
        experiment_id,
        run_name=f"Drift check {context.model} v{context.model_version}",
        tags={
            RunTag.MONITORING: "drift",
            RunTag.MONITORING_VERDICT: result.verdict.value,
            RunTag.MONITORED_MODEL: context.model,
            RunTag.MONITORED_VERSION: context.model_version,
            RunTag.DATASET: context.reference,
            RunTag.NOTE: result.message,
        },
    )
    run_id: str = run.info.run_id
    try:
        client.log_param(run_id, "since", context.since or "")
        client.log_param(run_id, "until", context.until or "")
        for key, value in result.checks.model_dump().items():
            client.log_param(run_id, key, value)
        client.log_metric(run_id, "reference_rows", result.reference_rows)
        client.log_metric(run_id, "current_rows", result.current_rows)
        client.log_metric(run_id, "drifted_columns", len(result.drifted_columns))
        for column in result.columns:
            client.log_metric(run_id, f"psi_{column.column}", column.psi)
            client.log_metric(run_id, f"ks_p_value_{column.column}", column.ks_p_value)
        client.log_artifact(run_id, str(html_path), "drift")
        client.log_artifact(run_id, str(json_path), "drift")
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
    return run_id
