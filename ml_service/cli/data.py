"""`mlops data`: register, list, show and validate dataset versions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ml_service.cli.group import MlopsGroup

if TYPE_CHECKING:
    from ml_service.data.checks import DataChecks
    from ml_service.data.datasets import DatasetRegistry


@click.group("data", cls=MlopsGroup)
def data_group() -> None:
    """Versioned datasets: register, list, show, validate."""


def _dataset_registry() -> DatasetRegistry:
    from ml_service.data.datasets import DatasetRegistry
    from ml_service.settings import load_env

    return DatasetRegistry.from_env(load_env())


def _data_checks() -> DataChecks:
    """The data checks of the model package SOURCES_DIR_TRAIN names."""
    from ml_service.project.package import model_package
    from ml_service.settings import load_env

    return model_package(load_env()).data_checks()


@data_group.command("register")
@click.option("--name", required=True, help="Dataset name.")
@click.option(
    "--path", "path", required=True, type=click.Path(dir_okay=False), help="CSV or Parquet file."
)
@click.option(
    "--accept-shift",
    is_flag=True,
    help="Register even if the distribution moved too far from the latest version's "
    "(the schema is still checked); needs --reason, kept on the new version.",
)
@click.option("--reason", default=None, metavar="TEXT", help="Why the shift is accepted.")
def data_register(name: str, path: str, accept_shift: bool, reason: str | None) -> None:
    """Validate a file and register it as the next version of NAME."""
    if accept_shift and not (reason and reason.strip()):
        raise click.UsageError("--accept-shift needs --reason TEXT: say why the shift is right")
    if reason and not accept_shift:
        raise click.UsageError("--reason goes with --accept-shift")
    version, created = _dataset_registry().register(
        name, path, _data_checks(), accept_shift_reason=reason if accept_shift else None
    )
    if created:
        click.echo(f"registered {version.ref} ({version.rows} rows, sha256 {version.digest[:12]})")
        if version.accepted_shift:
            shift = version.accepted_shift
            click.echo(
                f"accepted a distribution shift from {shift.reference} ({shift.reason}): "
                + "; ".join(shift.problems)
            )
        elif accept_shift:
            click.echo("no distribution shift to accept: the data matches the latest version")
    else:
        click.echo(f"{path} is already registered as {version.ref}; nothing changed")


@data_group.command("list")
@click.argument("name", required=False)
def data_list(name: str | None) -> None:
    """List dataset versions (of NAME, or of every dataset)."""
    from ml_service.cli import render

    click.echo(render.dataset_table(_dataset_registry().list_versions(name)))


@data_group.command("show")
@click.argument("ref", metavar="NAME[:VERSION]")
def data_show(ref: str) -> None:
    """Show one dataset version: digest, rows, schema and column statistics."""
    from ml_service.cli import render
    from ml_service.data.datasets import parse_dataset_ref

    name, version = parse_dataset_ref(ref)
    click.echo(render.dataset_details(_dataset_registry().get(name, version)))


@data_group.command("validate")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option(
    "--reference",
    default=None,
    metavar="NAME[:VERSION]",
    help="Dataset version to compare the distribution with "
    "[default: the latest DATASET_NAME version, if any].",
)
def data_validate(path: str, reference: str | None) -> None:
    """Check a data file against the schema and a reference version's distribution."""
    from ml_service.data.checks import read_data_file, validate_frame
    from ml_service.data.datasets import parse_dataset_ref
    from ml_service.errors import DatasetNotFoundError
    from ml_service.settings import load_env

    registry = _dataset_registry()
    reference_version = None
    if reference:
        reference_version = registry.get(*parse_dataset_ref(reference))
    else:
        try:
            reference_version = registry.get(load_env().dataset_name)
        except DatasetNotFoundError:
            reference_version = None
    frame = validate_frame(
        read_data_file(path),
        _data_checks(),
        path,
        reference_version.stats if reference_version else None,
        reference_version.ref if reference_version else "",
    )
    against = f", distribution matches {reference_version.ref}" if reference_version else ""
    click.echo(f"{path}: valid ({len(frame)} rows{against})")
