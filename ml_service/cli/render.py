"""Text the CLI prints: the pipeline run summary, dataset and model tables, lineage."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ml_service.data.datasets import DatasetVersion
from ml_service.pipelines.contracts import EvaluationOutput, RegistrationOutput, TrainOutput
from ml_service.pipelines.local_orchestrator import PipelineRunResult
from ml_service.pipelines.training import EVALUATE, REGISTER, TRAIN
from ml_service.registry.models import Lineage, RegisteredModelSummary
from ml_service.registry.tags import Alias
from ml_service.settings import Env
from ml_service.uris import is_http, mask_password


def pipeline_run(result: PipelineRunResult, env: Env) -> str:
    """The closing summary of `mlops run`."""
    lines = [f"Pipeline run {result.run_id}: {result.status} in {result.seconds:.1f} s"]

    def folder(step: str) -> Path | None:
        return result.step_outputs.get(step, {}).get("step_output")

    train = TrainOutput.read_if_present(folder(TRAIN))
    evaluation = EvaluationOutput.read_if_present(folder(EVALUATE))
    registration = RegistrationOutput.read_if_present(folder(REGISTER))
    if train:
        dataset = train.dataset
        lines.append(f"  dataset  {dataset.ref} (sha256 {dataset.digest[:12]})")
        metrics = "  ".join(f"{k} {v:.4f}" for k, v in train.metrics.items())
        lines.append(f"  metrics  {metrics}")
        if train.reused:
            lines.append(
                f"  training reused run {train.model_run_id} (same data, parameters, code)"
            )
    if registration and registration.version is None:
        lines.append(
            f"  model    not registered: no longer better than the champion ({registration.reason})"
        )
    elif registration:
        lines.append(
            f"  model    registered {registration.model_name} version {registration.version}, "
            + (
                f"now @{registration.alias}"
                if registration.alias
                else f"@{Alias.CHAMPION} stays (not better)"
            )
        )
    elif evaluation and evaluation.outcome == "cancelled":
        lines.append(
            f"  model    not registered: not better than champion "
            f"v{evaluation.champion_version} ({evaluation.reason})"
        )
    uri = env.tracking_uri
    if is_http(uri):
        lines.append(f"Open the MLflow UI: {uri}")
    else:
        lines.append(f"Tracking store: {mask_password(uri)}")
        lines.append("Open it in the MLflow UI: make ui (or mlops ui), then http://127.0.0.1:5000")
    return "\n".join(lines)


def dataset_table(versions: list[DatasetVersion]) -> str:
    """One line per dataset version."""
    if not versions:
        return "no datasets registered; use `mlops data register --name NAME --path FILE`"
    rows = [("DATASET", "ROWS", "SHA256", "REGISTERED", "SOURCE")]
    rows += [
        (v.ref, str(v.rows), v.digest[:12], f"{v.created_at:%Y-%m-%d %H:%M:%S}", v.source)
        for v in versions
    ]
    return _table(rows)


def dataset_details(version: DatasetVersion) -> str:
    """A dataset version with its schema and column statistics."""
    lines = [
        f"dataset  {version.ref}",
        f"sha256   {version.digest}",
        f"rows     {version.rows}",
        f"stored   {version.uri}",
        f"source   {version.source}",
        f"created  {version.created_at:%Y-%m-%d %H:%M:%S}",
    ]
    if version.accepted_shift:
        shift = version.accepted_shift
        lines += [
            f"accepted shift from {shift.reference} by {shift.accepted_by} "
            f"at {shift.accepted_at}: {shift.reason}",
            *(f"  {problem}" for problem in shift.problems),
        ]
    rows = [("COLUMN", "DTYPE", "MEAN", "STD", "MIN", "MAX")]
    rows += [
        (
            name,
            version.schema.get(name, ""),
            f"{stats['mean']:.4g}",
            f"{stats['std']:.4g}",
            f"{stats['min']:.4g}",
            f"{stats['max']:.4g}",
        )
        for name, stats in version.stats.items()
    ]
    return "\n".join(lines) + "\n\n" + _table(rows)


def model_table(models: list[RegisteredModelSummary]) -> str:
    """One line per registered model."""
    if not models:
        return "no registered models; run `mlops run` first"
    rows = [("MODEL", "LATEST", "ALIASES")]
    rows += [
        (
            m.name,
            m.latest_version or "-",
            ", ".join(f"@{a}=v{v}" for a, v in sorted(m.aliases.items())) or "-",
        )
        for m in models
    ]
    return _table(rows)


def lineage_text(lineage: Lineage) -> str:
    """A model version traced back to run, data and code."""
    aliases = " ".join(f"@{a}" for a in lineage.aliases)
    metrics = "  ".join(f"{k} {v:.4f}" for k, v in sorted(lineage.metrics.items()))
    fields = [
        ("model", f"{lineage.model} version {lineage.version} {aliases}".rstrip()),
        ("run", f"{lineage.run_id} ({lineage.run_status or 'unknown'})"),
        ("pipeline", lineage.pipeline_run_id or "-"),
        ("experiment", lineage.experiment or "-"),
        ("dataset", f"{lineage.dataset or '-'} (sha256 {lineage.dataset_digest or '-'})"),
        ("code", f"git {lineage.git_commit or '-'}"),
        ("build", f"{lineage.build_id or '-'} {lineage.build_uri or ''}".rstrip()),
        ("metrics", metrics or "-"),
    ]
    lines = [f"{label:<11}{value}" for label, value in fields]
    return "\n".join(lines)


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
