"""`mlops deploy`: roll models out to endpoints (staging, production), canary, rollback, history."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ml_service.cli.group import MlopsGroup

if TYPE_CHECKING:
    from ml_service.deploy.rollout import RolloutResult, Rollouts

ENV_HELP = "Endpoint: staging, production, or any name."


def _rollouts() -> Rollouts:
    from ml_service.deploy.rollout import Rollouts
    from ml_service.settings import load_env

    return Rollouts(load_env())


def _echo_result(result: RolloutResult) -> None:
    click.echo(result.message)
    click.echo(f"  url      {result.url}")
    for name, (version, share) in sorted(result.traffic.items()):
        click.echo(f"  {name:<8} version {version:<6} {share:>3} %")


@click.group("deploy", cls=MlopsGroup, invoke_without_command=True)
@click.option("--env", "endpoint", default=None, help=ENV_HELP)
@click.option(
    "--model",
    "model_uri",
    default=None,
    help="Model URI to deploy [default: what staging serves for production, else @champion].",
)
@click.option(
    "--canary",
    type=click.IntRange(1, 99),
    default=None,
    help="Give the new version this percentage of the traffic; the current keeps the rest.",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port of the endpoint when it is first started [default: a free one].",
)
@click.pass_context
def deploy_group(
    ctx: click.Context,
    endpoint: str | None,
    model_uri: str | None,
    canary: int | None,
    port: int | None,
) -> None:
    """Deploy a model version to an endpoint: load beside the current, smoke test, switch.

    `mlops deploy --env staging` deploys @champion; `--env production` promotes
    what staging serves and moves the `production` alias once its smoke test passes.
    """
    if ctx.invoked_subcommand is not None:
        return
    if endpoint is None:
        raise click.UsageError("give --env (staging, production, ...) or a subcommand")
    _echo_result(_rollouts().deploy(endpoint, model_uri, canary=canary, port=port))


@deploy_group.command("promote")
@click.option("--env", "endpoint", required=True, help=ENV_HELP)
def deploy_promote(endpoint: str) -> None:
    """Give the canary all the traffic (production: the alias moves to it)."""
    _echo_result(_rollouts().promote(endpoint))


@deploy_group.command("rollback")
@click.option("--env", "endpoint", required=True, help=ENV_HELP)
def deploy_rollback(endpoint: str) -> None:
    """Back to the previous good version: drop the canary, or redeploy the version before."""
    _echo_result(_rollouts().rollback(endpoint))


@deploy_group.command("stop")
@click.option("--env", "endpoint", required=True, help=ENV_HELP)
def deploy_stop(endpoint: str) -> None:
    """Stop the endpoint's service and clear its deployments."""
    pid = _rollouts().stop(endpoint)
    click.echo(f"{endpoint}: stopped (pid {pid})" if pid else f"{endpoint}: was not running")


@deploy_group.command("status")
def deploy_status() -> None:
    """Each endpoint: URL, health, deployments, versions, traffic, counts since the split."""
    statuses = _rollouts().status()
    if not statuses:
        click.echo("no endpoint deployed; run `mlops deploy --env staging`")
        return
    for status in statuses:
        where = f"{status.url} (pid {status.pid})" if status.url else "not running"
        click.echo(f"{status.endpoint}  {where}  {status.health}")
        header = f"  {'DEPLOYMENT':<10} {'MODEL':<32} {'TRAFFIC':>7}  {'SINCE':<25}"
        click.echo(f"{header} {'REQUESTS':>8} {'ERRORS':>6} {'P99 MS':>8}")
        for d in status.deployments:

            def show(value: object) -> str:
                return "-" if value is None else str(value)

            click.echo(
                f"  {d['name']:<10} {d['model']:<32} {d['traffic']:>6}%  {d['since']:<25}"
                f" {show(d['requests']):>8} {show(d['errors']):>6} {show(d['p99_ms']):>8}"
            )


@deploy_group.command("history")
@click.option("--env", "endpoint", default=None, help="Only this endpoint's changes.")
def deploy_history(endpoint: str | None) -> None:
    """Every change: time, who, action, model version, traffic after, smoke test."""
    entries = _rollouts().state.history(endpoint)
    if not entries:
        click.echo("no deployment yet")
        return
    click.echo(
        f"{'TIME':<25} {'ENDPOINT':<11} {'WHO':<16} {'ACTION':<9} {'VERSION':<8} "
        f"{'SMOKE':<7} TRAFFIC"
    )
    for e in entries:
        traffic = ",".join(f"{n}={s}" for n, s in sorted(e.traffic.items())) or "-"
        detail = f"  {e.detail}" if e.detail else ""
        click.echo(
            f"{e.at.isoformat(timespec='seconds'):<25} {e.endpoint:<11} {e.actor[:16]:<16} "
            f"{e.action:<9} {e.model_version or '-':<8} {e.smoke_test:<7} {traffic}{detail}"
        )


@deploy_group.command("render")
@click.option("--env", "endpoint", required=True, help=ENV_HELP)
@click.option(
    "--target",
    type=click.Choice(["k8s"]),
    default="k8s",
    show_default=True,
    help="What to render for: Kubernetes (AKS or any cluster).",
)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder to write.")
@click.option(
    "--image",
    default="mlops-serving",
    show_default=True,
    help="Image repository; each deployment's tag is MODEL-VERSION (see `mlops package`).",
)
def deploy_render(endpoint: str, target: str, out: Path, image: str) -> None:
    """Render the endpoint's deployments as Kubernetes manifests (probes, HPA, canary route)."""
    from ml_service.deploy.render import manifests, write

    rollouts = _rollouts()
    written = write(manifests(endpoint, rollouts.state.deployments(endpoint), image), out)
    click.echo(f"{endpoint}: {len(written)} {target} manifests in {out}")
    for path in written:
        click.echo(f"  {path.name}")


@click.command("package")
@click.option("--model", "model_uri", required=True, help="Model URI, e.g. models:/NAME/3.")
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="New folder for the context."
)
@click.option(
    "--deployment",
    type=click.Choice(["blue", "green"]),
    default="blue",
    show_default=True,
    help="The deployment name the image serves the model as (its Azure ML deployment).",
)
def package_command(model_uri: str, out: Path, deployment: str) -> None:
    """Write a Docker build context serving one model version (deploy/Dockerfile)."""
    from ml_service.deploy.package import package
    from ml_service.settings import load_env

    model_dir = package(load_env(), model_uri, out, deployment=deployment)
    click.echo(f"build context in {out} (model {model_dir.name})")
    click.echo(f"  docker build -t mlops-serving:{model_dir.name.replace('_', '-')} {out}")
