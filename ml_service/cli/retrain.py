"""`mlops retrain --if-new-data` (one shot, for cron or CI) and `mlops watch` (the same, in a loop).

Each file dropped into the datastore's `landing/` folder is validated, registered
as a new DATASET_NAME version (RETRAIN_DATASET_POLICY: append or replace) and
trained on by the published training pipeline, exactly once; a file that fails
the data checks goes to `retrain/quarantine/` with a reason file, one whose
pipeline failed RETRAIN_MAX_ATTEMPTS times to `retrain/failed/`.
"""

from __future__ import annotations

import time

import click


def _import_pipeline_ahead() -> None:
    """What `mlops run` imports first (see there): the pipeline may train in this process."""
    from ml_service.startup import import_ahead_of_mlflow, long_lived_imports

    import_ahead_of_mlflow()
    with long_lived_imports():
        from ml_service.monitoring import retrain  # noqa: F401


def _retrain_once() -> tuple[int, int]:
    """Process what landed; print one line per file.

    Returns:
        How many files were processed, and how many of them were set aside as failed.
    """
    from ml_service.monitoring.retrain import describe, retrain_if_new_data
    from ml_service.settings import load_env

    outcomes = retrain_if_new_data(load_env())
    for outcome in outcomes:
        click.echo(f"{outcome.file}: {describe(outcome)}", err=outcome.status == "failed")
    return len(outcomes), sum(outcome.status == "failed" for outcome in outcomes)


@click.command("retrain")
@click.option(
    "--if-new-data",
    is_flag=True,
    help="Train once for each new file in the datastore's landing/ folder (required).",
)
@click.option(
    "--on-drift",
    is_flag=True,
    help="Then run the drift check (`mlops monitor drift`); on drift, train on the latest "
    "DATASET_NAME version if it is newer than the model's training data; exit 3 if drift "
    "is found and there is no newer data.",
)
@click.option(
    "--model",
    default=None,
    metavar="URI",
    help="Model the drift check looks at [default: MODEL_NAME@production, else @champion].",
)
def retrain_command(if_new_data: bool, on_drift: bool, model: str | None) -> None:
    """Retrain on each new file in the datastore's landing/ folder, exactly once; and/or
    when the drift check finds drift."""
    from ml_service.settings import load_env

    if not (if_new_data or on_drift):
        raise click.UsageError(
            "say when to retrain: --if-new-data and/or --on-drift "
            "(or `mlops run` to train now on DATASET_NAME)"
        )
    _import_pipeline_ahead()
    failed = 0
    if if_new_data:
        processed, failed = _retrain_once()
        if processed == 0:
            from ml_service.monitoring.retrain import Folders

            click.echo(f"no new data in {Folders.of(load_env()).landing}")
    if on_drift:
        from ml_service.monitoring.retrain import describe, retrain_on_drift

        outcome = retrain_on_drift(load_env(), model)
        click.echo(f"drift check: {outcome.verdict}: {outcome.message} (report: {outcome.report})")
        if outcome.trained is not None:
            click.echo(f"retrained on drift: {describe(outcome.trained)}")
        elif outcome.verdict == "drift":
            click.get_current_context().exit(3)
    if failed:
        click.get_current_context().exit(1)


@click.command("watch")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    help="Seconds between two looks at the landing folder.",
)
@click.option(
    "--rounds",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after this many looks [default: run until stopped].",
)
def watch_command(interval: float, rounds: int | None) -> None:
    """Watch the datastore's landing/ folder and retrain on each new file (Ctrl-C stops)."""
    _import_pipeline_ahead()
    done = 0
    try:
        while rounds is None or done < rounds:
            _retrain_once()
            done += 1
            if rounds is None or done < rounds:
                time.sleep(interval)
    except KeyboardInterrupt:
        click.echo("stopped")
