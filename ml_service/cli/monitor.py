"""`mlops monitor`: drift of what the service scored against the model's training data.

Exit codes of `mlops monitor drift`, for CI and schedulers:
0 no drift; 3 drift found; 4 too little data for a verdict; 1 a user mistake
(one `error:` line); 2 a usage error (click).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import click

from ml_service.cli.group import MlopsGroup

EXIT_NO_DRIFT = 0
EXIT_DRIFT = 3
EXIT_INSUFFICIENT_DATA = 4


@click.group("monitor", cls=MlopsGroup)
def monitor_group() -> None:
    """Monitoring: drift of scored data against the training data; live performance."""


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


@monitor_group.command("drift")
@click.option(
    "--model",
    default=None,
    metavar="URI",
    help="NAME, NAME:VERSION, NAME@ALIAS or models:/... "
    "[default: MODEL_NAME@production if set, else @champion].",
)
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="First day of scored data to compare (UTC, inclusive) [default: the first collected].",
)
@click.option(
    "--until",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Last day of scored data to compare (UTC, inclusive) [default: today].",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for drift_report.html and drift_summary.json "
    "[default: monitoring/<model>-v<version>-<time>/ in the workspace].",
)
def monitor_drift(
    model: str | None, since: datetime | None, until: datetime | None, out_dir: Path | None
) -> None:
    """Compare the inputs and predictions the service collected for a model version with the
    dataset version it was trained on; exit 0 no drift, 3 drift, 4 too little data."""
    from ml_service.monitoring.drift import Verdict
    from ml_service.monitoring.drift_check import run_drift_check
    from ml_service.settings import load_env

    outcome = run_drift_check(load_env(), model, _day(since), _day(until), out_dir)
    result = outcome.result
    click.echo(
        f"{outcome.model} version {outcome.model_version} vs {outcome.reference}: "
        f"{result.verdict.value}: {result.message}"
    )
    for column in result.columns:
        if column.drifted:
            click.echo(
                f"  {column.column}: PSI {column.psi:.3f}, KS p-value {column.ks_p_value:.2g}, "
                f"mean {column.reference_mean:.4g} → {column.current_mean:.4g}"
            )
    click.echo(f"report: {outcome.html_path}")
    click.echo(f"summary: {outcome.json_path}")
    click.echo(f"MLflow run: {outcome.run_id}")
    codes = {
        Verdict.NO_DRIFT: EXIT_NO_DRIFT,
        Verdict.DRIFT: EXIT_DRIFT,
        Verdict.INSUFFICIENT_DATA: EXIT_INSUFFICIENT_DATA,
    }
    click.get_current_context().exit(codes[result.verdict])


@monitor_group.command("performance")
@click.option(
    "--labels",
    "labels_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV or Parquet: request_id, the target column and, for requests of several rows, row.",
)
@click.option(
    "--model",
    default=None,
    metavar="URI",
    help="NAME, NAME:VERSION, NAME@ALIAS or models:/... "
    "[default: MODEL_NAME@production if set, else @champion].",
)
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First day (UTC).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last day (UTC).")
def monitor_performance(
    labels_path: Path, model: str | None, since: datetime | None, until: datetime | None
) -> None:
    """Join ground-truth labels to the collected predictions by request id; report live
    mse, rmse, mae and r2 next to the training metrics, and log them to MLflow."""
    from ml_service.monitoring.performance import METRICS, run_performance_check
    from ml_service.settings import load_env

    outcome = run_performance_check(load_env(), labels_path, model, _day(since), _day(until))
    click.echo(
        f"{outcome.model} version {outcome.model_version}: {outcome.matched_rows} labelled "
        f"predictions ({outcome.unmatched_labels} labels matched no prediction)"
    )
    click.echo(f"{'METRIC':<8}{'LIVE':>12}{'TRAINING':>12}")
    for name in METRICS:
        training = outcome.training.get(name)
        shown = f"{training:>12.4g}" if training is not None else f"{'-':>12}"
        click.echo(f"{name:<8}{outcome.live[name]:>12.4g}{shown}")
    click.echo(f"MLflow run: {outcome.run_id}")
