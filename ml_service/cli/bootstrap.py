"""`mlops bootstrap`: a new model project from the current model package."""

from __future__ import annotations

import click


@click.command("bootstrap")
@click.option("--name", required=True, help="New package name, e.g. my_project.")
@click.option(
    "--output",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder to create the project folder NAME in.",
)
def bootstrap_command(name: str, output: str) -> None:
    """Create a new model project from the model package (diabetes_regression by default)."""
    from pathlib import Path

    from ml_service.project.bootstrap import bootstrap, settings_for
    from ml_service.project.package import model_package
    from ml_service.settings import load_env

    project = bootstrap(name, Path(output), model_package(load_env()))
    click.echo(f"created {project}: package {name}/, .env, data/sample.csv")
    click.echo(f"next: cd {project} && mlops run --data-file-path data/sample.csv")
    click.echo(f"      mlops model lineage {settings_for(name)['MODEL_NAME']}@champion")
