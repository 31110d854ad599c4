"""The model artifact: which model version a CI build registered, handed from CI to CD.

The Register step tags a version with the build that made it (`BuildId`, set
from BUILD_BUILDID). After the pipeline run, the CI looks the build id up in
the registry: a version found becomes `model.json` (name, version, metrics,
lineage), which the CD pipeline deploys; none found means this build
registered no model (Evaluate kept the champion, or the training was reused),
and no artifact is published, so no deployment starts.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlflow.tracking import MlflowClient
from pydantic import BaseModel, ConfigDict, ValidationError

from ml_service.errors import ModelArtifactError
from ml_service.registry.models import lineage
from ml_service.registry.tags import VersionTag


class ModelArtifact(BaseModel):
    """A registered model version, as the CD pipeline reads it from `model.json`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str
    uri: str  # models:/NAME/VERSION, what `mlops serve --model` takes
    metrics: dict[str, float]
    build_id: str
    build_uri: str | None
    run_id: str
    dataset: str | None
    git_commit: str | None
    aliases: list[str]

    def write(self, path: Path) -> None:
        """Write the artifact as JSON, whole or not at all (a temporary file renamed)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        partial.replace(path)

    @classmethod
    def read(cls, path: Path) -> ModelArtifact:
        """Read and validate an artifact file.

        Raises:
            ModelArtifactError: the file is missing, is not JSON, or lacks a field.
        """
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as err:
            raise ModelArtifactError(
                f"{path} not found: the CI build publishes it only when it registered a model"
            ) from err
        try:
            return cls.model_validate(json.loads(text))
        except (json.JSONDecodeError, ValidationError) as err:
            problem = str(err).splitlines()[0]
            raise ModelArtifactError(
                f"{path} is not a model artifact ({problem}); "
                "write it with `mlops ci model-artifact`"
            ) from err


def registered_by_build(
    client: MlflowClient, model_name: str, build_id: str
) -> ModelArtifact | None:
    """The newest version of `model_name` the build `build_id` registered, or None.

    Args:
        client: the tracking client of the registry the build registered into.
        model_name: the registered model's name (MODEL_NAME).
        build_id: the CI build's id (BUILD_BUILDID), the versions' `BuildId` tag.
    """
    quoted = build_id.replace("'", "\\'")
    versions = client.search_model_versions(
        f"name = '{model_name}' and tags.{VersionTag.BUILD_ID} = '{quoted}'"
    )
    if not versions:
        return None
    newest = max(versions, key=lambda version: int(version.version))
    found = lineage(client, f"{model_name}:{newest.version}")
    return ModelArtifact(
        name=found.model,
        version=found.version,
        uri=f"models:/{found.model}/{found.version}",
        metrics=found.metrics,
        build_id=build_id,
        build_uri=found.build_uri,
        run_id=found.run_id,
        dataset=found.dataset,
        git_commit=found.git_commit,
        aliases=found.aliases,
    )
