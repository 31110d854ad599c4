"""`mlops ci`: what the CI and CD pipelines ask the platform (`.pipelines/`, `.github/`)."""

from __future__ import annotations

from pathlib import Path

import click

from ml_service.cli.group import MlopsGroup

ARTIFACT_FIELDS = ("name", "version", "uri", "build_id", "run_id")


@click.group("ci", cls=MlopsGroup)
def ci_group() -> None:
    """CI/CD steps: the model artifact a training build hands to deployment."""


@ci_group.command("model-artifact")
@click.option(
    "--out",
    "out_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The artifact file to write (model.json); removed when no model was registered.",
)
@click.option("--model-name", default=None, help="Registered model [default: MODEL_NAME].")
@click.option("--build-id", default=None, help="The CI build [default: BUILD_BUILDID].")
def model_artifact_command(out_file: Path, model_name: str | None, build_id: str | None) -> None:
    """Write the model version this build registered (name, version, metrics), or say none was."""
    from ml_service.ci.artifact import registered_by_build
    from ml_service.errors import SettingsError
    from ml_service.settings import load_env
    from ml_service.tracking.store import configure_tracking

    env = load_env()
    name = model_name or env.model_name
    build = build_id or env.build_buildid
    if build == "local":
        raise SettingsError(
            "BUILD_BUILDID is `local`, which the Register step does not tag: "
            "set BUILD_BUILDID (or --build-id) to the CI build's id"
        )
    artifact = registered_by_build(configure_tracking(env).client, name, build)
    if artifact is None:
        # A file left by an earlier build would deploy a model this build did not make.
        out_file.unlink(missing_ok=True)
        click.echo(
            f"no new model was registered by build {build}: {name} keeps its champion; "
            f"no artifact written"
        )
        return
    artifact.write(out_file)
    metrics = ", ".join(f"{key}={value:.6g}" for key, value in sorted(artifact.metrics.items()))
    click.echo(
        f"build {build} registered {artifact.name} version {artifact.version}"
        f"{f' ({metrics})' if metrics else ''}: {out_file}"
    )


@ci_group.command("read-artifact")
@click.argument("artifact_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--field",
    type=click.Choice(ARTIFACT_FIELDS),
    default=None,
    help="Print this field alone (for a pipeline variable) [default: the whole artifact].",
)
def read_artifact_command(artifact_file: Path, field: str | None) -> None:
    """Check a model artifact and print it, or one of its fields."""
    from ml_service.ci.artifact import ModelArtifact

    artifact = ModelArtifact.read(artifact_file)
    if field is None:
        click.echo(artifact.model_dump_json(indent=2))
    else:
        click.echo(str(getattr(artifact, field)))
