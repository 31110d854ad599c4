"""Pipeline definitions: references are checked when built and resolved when run."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ml_service.pipelines.definition import (
    PipelineSpec,
    StepSpec,
    resolve_arguments,
    with_parameters,
)


def spec(**changes) -> PipelineSpec:  # type: ignore[no-untyped-def]
    steps = [
        StepSpec(
            id="train",
            display_name="Train model",
            module="pkg.train",
            arguments=["--model_name", "${{parameters.model_name}}", "--out", "${{outputs.out}}"],
            outputs=["out"],
        ),
        StepSpec(
            id="register",
            display_name="Register",
            module="pkg.register",
            arguments=["--step_input", "${{steps.train.outputs.out}}"],
        ),
    ]
    values = {"name": "p", "version": "1", "parameters": {"model_name": "m"}, "steps": steps}
    values.update(changes)
    return PipelineSpec(**values)


def test_arguments_are_resolved() -> None:
    pipeline = spec()
    folders = {"train": {"out": "/w/train/out"}}
    params = {"model_name": "diabetes"}
    train, register = pipeline.steps
    assert resolve_arguments(train, params, folders) == [
        "--model_name", "diabetes", "--out", "/w/train/out",
    ]  # fmt: skip
    assert resolve_arguments(register, params, folders) == ["--step_input", "/w/train/out"]


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("${{parameters.nope}}", "unknown parameter 'nope'"),
        ("${{outputs.nope}}", "output 'nope' it does not declare"),
        ("${{steps.later.outputs.out}}", "step 'later', which does not run before it"),
        ("${{steps.train.outputs.nope}}", "output 'nope' that 'train' lacks"),
        ("${{inputs.x}}", "unknown placeholder"),
    ],
)
def test_bad_references_are_refused(argument: str, message: str) -> None:
    good = spec().steps
    bad = StepSpec(id="evaluate", display_name="Evaluate", module="pkg.e", arguments=[argument])
    with pytest.raises(ValidationError, match=message):
        spec(steps=[good[0], bad, good[1]])


def test_duplicate_step_ids_are_refused() -> None:
    train = spec().steps[0]
    with pytest.raises(ValidationError, match="used twice"):
        spec(steps=[train, train])


def test_digest_changes_with_the_definition() -> None:
    assert spec().digest() == spec().digest()
    assert spec().digest() != spec(version="2").digest()


def test_with_parameters_applies_overrides_and_refuses_unknown_names() -> None:
    pipeline = spec()
    assert with_parameters(pipeline, {"model_name": None}) == {"model_name": "m"}
    assert with_parameters(pipeline, {"model_name": "x"}) == {"model_name": "x"}
    with pytest.raises(ValueError, match="has no parameter typo"):
        with_parameters(pipeline, {"typo": "1"})
