"""A pipeline as data: named parameters and steps that are commands.

A step's arguments may hold Azure ML style placeholders, resolved when it runs:
`${{parameters.NAME}}` (a pipeline parameter), `${{outputs.NAME}}` (a folder
this step writes) and `${{steps.STEP.outputs.NAME}}` (a folder an earlier step
wrote). Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import re

from pydantic import BaseModel, ConfigDict, Field, model_validator

PLACEHOLDER = re.compile(r"\$\{\{([^}]*)\}\}")

# The value of a pipeline parameter that has none. An empty string would vanish
# from a shell command line (Azure ML runs steps through one), so, as in
# MLOpsPython, the word `none` stands for it; steps read it as no value.
NO_VALUE = "none"


class StepSpec(BaseModel):
    """One step: a module run as `python -m MODULE ARGUMENTS`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Short id used in references.")
    display_name: str = Field(min_length=1)
    module: str = Field(pattern=r"^[A-Za-z_][\w.]*$")
    arguments: list[str] = Field(default_factory=list)
    outputs: list[str] = Field(default_factory=list)


class PipelineSpec(BaseModel):
    """A pipeline: parameters with defaults, and steps run in order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    description: str = ""
    parameters: dict[str, str] = Field(default_factory=dict)
    steps: list[StepSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _references_resolve(self) -> PipelineSpec:
        seen: dict[str, StepSpec] = {}
        for step in self.steps:
            if step.id in seen:
                raise ValueError(f"step id {step.id!r} is used twice")
            for argument in step.arguments:
                for reference in PLACEHOLDER.findall(argument):
                    _check_reference(reference.strip(), step, seen, self.parameters)
            seen[step.id] = step
        return self

    def digest(self) -> str:
        """SHA-256 of the canonical definition: same pipeline, same digest."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


def _check_reference(
    reference: str, step: StepSpec, earlier: dict[str, StepSpec], parameters: dict[str, str]
) -> None:
    parts = reference.split(".")
    if parts[0] == "parameters" and len(parts) == 2:
        if parts[1] not in parameters:
            raise ValueError(f"step {step.id!r} uses unknown parameter {parts[1]!r}")
        return
    if parts[0] == "outputs" and len(parts) == 2:
        if parts[1] not in step.outputs:
            raise ValueError(f"step {step.id!r} uses output {parts[1]!r} it does not declare")
        return
    if parts[0] == "steps" and len(parts) == 4 and parts[2] == "outputs":
        source = earlier.get(parts[1])
        if source is None:
            raise ValueError(
                f"step {step.id!r} uses step {parts[1]!r}, which does not run before it"
            )
        if parts[3] not in source.outputs:
            raise ValueError(f"step {step.id!r} uses output {parts[3]!r} that {parts[1]!r} lacks")
        return
    raise ValueError(f"step {step.id!r} has an unknown placeholder ${{{{{reference}}}}}")


def resolve_arguments(
    step: StepSpec,
    parameters: dict[str, str],
    output_folders: dict[str, dict[str, str]],
) -> list[str]:
    """The step's argument list with every placeholder replaced.

    Args:
        step: The step.
        parameters: Values of all pipeline parameters.
        output_folders: `{step_id: {output_name: folder}}` for this and earlier steps.
    """

    def value(match: re.Match[str]) -> str:
        parts = match.group(1).strip().split(".")
        if parts[0] == "parameters":
            return parameters[parts[1]]
        if parts[0] == "outputs":
            return output_folders[step.id][parts[1]]
        return output_folders[parts[1]][parts[3]]

    return [PLACEHOLDER.sub(value, argument) for argument in step.arguments]


def with_parameters(spec: PipelineSpec, overrides: dict[str, str | None]) -> dict[str, str]:
    """The pipeline's defaults with the given values; an unknown name is an error."""
    unknown = sorted(set(overrides) - set(spec.parameters))
    if unknown:
        raise ValueError(
            f"pipeline {spec.name!r} has no parameter {', '.join(unknown)}; "
            f"parameters: {', '.join(sorted(spec.parameters))}"
        )
    values = dict(spec.parameters)
    for name, value in overrides.items():
        if value is not None:
            values[name] = value
    return values
