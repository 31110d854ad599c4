"""`mlops run`: build, publish and run the training pipeline."""

from __future__ import annotations

import click


@click.command("run")
@click.option("--model-name", default=None, help="Registered model name [default: MODEL_NAME].")
@click.option(
    "--dataset-version", default=None, help="Dataset version or latest [default: DATASET_VERSION]."
)
@click.option(
    "--data-file-path",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="Validate and register this file as a new dataset version, then train on it.",
)
@click.option("--caller-run-id", default=None, help="Id of the CI run that started this one.")
@click.option("--isolate-steps", is_flag=True, help="Run each step in its own Python process.")
@click.option(
    "--description",
    default=None,
    metavar="TEXT",
    help="What this run tries and why; shown as the run's description in the MLflow UI.",
)
def run_command(
    model_name: str | None,
    dataset_version: str | None,
    data_file_path: str | None,
    caller_run_id: str | None,
    isolate_steps: bool,
    description: str | None,
) -> None:
    """Build, publish and run the training pipeline: Train → Evaluate → Register."""
    from ml_service.startup import import_ahead_of_mlflow, long_lived_imports

    import_ahead_of_mlflow()
    with long_lived_imports():
        from ml_service.cli import render
        from ml_service.pipelines.training import build_and_publish, run_published
        from ml_service.settings import load_env

    env = load_env()
    published = build_and_publish(env)
    result = run_published(
        env,
        published,
        {
            "model_name": model_name,
            "dataset_version": dataset_version,
            "data_file_path": data_file_path,
            "caller_run_id": caller_run_id,
        },
        isolate_steps=isolate_steps,
        description=description,
    )
    click.echo(render.pipeline_run(result, env))
