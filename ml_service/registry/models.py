"""The model registry, behind a few small functions over MLflow's client.

Models are addressed as `NAME`, `NAME:VERSION` or `NAME@ALIAS`; the current
best model is the version behind the alias `champion` (names in `tags`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from ml_service.errors import AlreadyRegisteredError, ModelNotFoundError
from ml_service.registry.tags import Alias, VersionTag

if TYPE_CHECKING:
    from ml_service.models.twin import TwinCheck


def _is_missing(err: MlflowException) -> bool:
    return err.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND")


def get_alias(client: MlflowClient, name: str, alias: str = Alias.CHAMPION) -> ModelVersion | None:
    """The version behind `name@alias`, or None when the model or the alias does not exist."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as err:
        if _is_missing(err):
            return None
        raise


def versions_of_run(client: MlflowClient, name: str, run_id: str) -> list[ModelVersion]:
    """Versions of `name` registered from the run `run_id`."""
    return list(client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'"))


# A judge looks at the current champion (None: there is none) and says whether
# the challenger beats it, and why.
Judge = Callable[[ModelVersion | None], tuple[bool, str]]


@dataclass(frozen=True)
class Registration:
    """What `register_challenger` did."""

    version: ModelVersion | None  # None: not registered (it lost and was not to be kept)
    promoted: bool  # whether the alias moved to it
    reason: str


def register_challenger(
    client: MlflowClient,
    name: str,
    model_uri: str,
    run_id: str,
    tags: dict[str, str],
    judge: Judge,
    lock: AbstractContextManager[object] | None = None,
    keep_if_not_better: bool = True,
    alias: str = Alias.CHAMPION,
) -> Registration:
    """Judge the challenger against the current `alias` holder and register it, atomically.

    Under `lock` (held by every registration of `name`), the champion is read
    afresh, the challenger judged against it, the version created and the alias
    moved only when the challenger is better. So of two challengers that both
    beat an old champion, the second is compared with the first, not with the
    old one; and a run can never get two versions, even when retried at once.

    Args:
        keep_if_not_better: register a challenger that is not better (the alias
            stays); when False it is not registered at all.

    Raises:
        AlreadyRegisteredError: the run's model is already a version of `name`.
    """
    with lock if lock is not None else nullcontext():
        better, reason = judge(get_alias(client, name, alias))
        existing = versions_of_run(client, name, run_id)
        if not better and not keep_if_not_better:
            if existing:
                # A reused training whose model another pipeline registered meanwhile.
                reason += f" (its model is already {name} version {existing[0].version})"
            return Registration(version=None, promoted=False, reason=reason)
        if existing:
            raise AlreadyRegisteredError(
                f"the model of run {run_id} is already registered as {name} version "
                f"{existing[0].version}; a run gives at most one model version"
            )
        _ensure_registered_model(client, name)
        model_id = (
            model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
        )
        version = client.create_model_version(
            name, source=model_uri, run_id=run_id, tags=tags, model_id=model_id
        )
        if better:
            client.set_registered_model_alias(name, alias, version.version)
        return Registration(
            version=client.get_model_version(name, version.version),
            promoted=better,
            reason=reason,
        )


_MAX_TAG_TEXT = 500


def twin_tags(check: TwinCheck) -> dict[str, str]:
    """The version tags that record an ONNX twin's check: where it is, or why there is none."""
    why_not = f"none: {check.reason}"
    # Converter messages can quote whole arrays; a tag stays short enough for any store.
    why_not = why_not if len(why_not) <= _MAX_TAG_TEXT else why_not[: _MAX_TAG_TEXT - 3] + "..."
    tags = {VersionTag.ONNX_TWIN: check.path if check.attached else why_not}
    if check.max_abs_diff is not None:
        tags[VersionTag.ONNX_MAX_ABS_DIFF] = f"{check.max_abs_diff:.3g}"
    return tags


def attach_twin(client: MlflowClient, model_uri: str, check: TwinCheck) -> None:
    """Store a checked ONNX twin with the logged model behind `model_uri` (`models:/m-...`).

    The twin becomes an artifact of the logged model (`onnx/` beside MLmodel), so
    every version registered from it, and everything that downloads it, has it;
    the MLflow model itself is unchanged.

    Raises:
        ValueError: there is no twin to attach, or the URI is not a logged model's.
    """
    from ml_service.models.twin import staged_twin

    if not model_uri.startswith("models:/m-"):
        raise ValueError(
            f"an ONNX twin is stored with a logged model (models:/m-...), not {model_uri}"
        )
    with staged_twin(check) as folder:
        client.log_model_artifacts(model_uri.removeprefix("models:/"), str(folder))


def _ensure_registered_model(client: MlflowClient, name: str) -> None:
    try:
        client.get_registered_model(name)
    except MlflowException as err:
        if not _is_missing(err):
            raise
        try:
            client.create_registered_model(name)
        except MlflowException as create_err:
            if create_err.error_code != "RESOURCE_ALREADY_EXISTS":
                raise


def resolve(client: MlflowClient, ref: str) -> ModelVersion:
    """A model version from `NAME`, `NAME:VERSION` or `NAME@ALIAS` (NAME alone: @champion).

    Raises:
        ModelNotFoundError: no such model, version or alias.
    """
    if "@" in ref:
        name, alias = ref.split("@", 1)
        found = get_alias(client, name, alias)
        if found is None:
            raise ModelNotFoundError(f"model {name!r} has no alias @{alias}")
        return found
    name, _, version = ref.partition(":")
    if not version:
        found = get_alias(client, name, Alias.CHAMPION)
        if found is None:
            raise ModelNotFoundError(f"model {name!r} does not exist or has no @{Alias.CHAMPION}")
        return found
    if not version.isdigit():
        raise ModelNotFoundError(f"invalid model version {version!r} in {ref!r}; use a number")
    try:
        return client.get_model_version(name, version)
    except MlflowException as err:
        if _is_missing(err):
            raise ModelNotFoundError(f"model {name!r} has no version {version}") from err
        raise


@dataclass(frozen=True)
class RegisteredModelSummary:
    """A registered model with its newest version and aliases."""

    name: str
    latest_version: str | None
    aliases: dict[str, str]


def list_models(client: MlflowClient) -> list[RegisteredModelSummary]:
    """Every registered model, newest version and aliases."""
    summaries = []
    for model in client.search_registered_models(order_by=["name ASC"]):
        versions = [int(v.version) for v in model.latest_versions or []]
        summaries.append(
            RegisteredModelSummary(
                name=model.name,
                latest_version=str(max(versions)) if versions else None,
                aliases=dict(model.aliases or {}),
            )
        )
    return summaries


@dataclass(frozen=True)
class Lineage:
    """Where a model version came from: run, data and code."""

    model: str
    version: str
    aliases: list[str]
    run_id: str
    pipeline_run_id: str | None
    experiment: str | None
    dataset: str | None
    dataset_digest: str | None
    git_commit: str | None
    build_id: str | None
    build_uri: str | None
    metrics: dict[str, float]
    run_status: str | None


def lineage(client: MlflowClient, ref: str) -> Lineage:
    """Follow a model version back to its run, dataset version and code version."""
    version = resolve(client, ref)
    tags = version.tags or {}
    run_id = version.run_id or tags.get(VersionTag.RUN_ID, "")
    metrics: dict[str, float] = {}
    status = None
    if run_id:
        try:
            run = client.get_run(run_id)
            metrics = dict(run.data.metrics)
            status = run.info.status
        except MlflowException:
            status = "deleted"
    dataset = None
    if VersionTag.DATASET_NAME in tags:
        dataset = f"{tags[VersionTag.DATASET_NAME]}:{tags.get(VersionTag.DATASET_VERSION, '?')}"
    return Lineage(
        model=version.name,
        version=str(version.version),
        aliases=list(version.aliases or []),
        run_id=run_id,
        pipeline_run_id=tags.get(VersionTag.PIPELINE_RUN_ID),
        experiment=tags.get(VersionTag.EXPERIMENT),
        dataset=dataset,
        dataset_digest=tags.get(VersionTag.DATASET_DIGEST),
        git_commit=tags.get(VersionTag.GIT_COMMIT),
        build_id=tags.get(VersionTag.BUILD_ID),
        build_uri=tags.get(VersionTag.BUILD_URI),
        metrics=metrics,
        run_status=status,
    )
