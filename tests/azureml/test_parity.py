"""Every local run tests the cloud path: the compiled component commands are the local ones.

Both sides are derived from the one pipeline definition: the local orchestrator
runs its steps (their execution recorded, not performed) and the compiler
compiles them; with the same parameter values and folders, each component's
command line is the orchestrator's, apart from the `--run_id` only the local
orchestrator adds (on Azure ML the job's own run is MLflow's active run).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from ml_service.pipelines import local_orchestrator
from ml_service.pipelines.azureml.compiler import compile_training
from ml_service.pipelines.training import build_and_publish, build_pipeline, run_published
from ml_service.settings import Env

INPUT = re.compile(r"\$\{\{(inputs|outputs)\.(\w+)\}\}")
PARENT_INPUT = re.compile(r"^\$\{\{parent\.inputs\.(\w+)\}\}$")
PARENT_STEP = re.compile(r"^\$\{\{parent\.jobs\.(\w+)\.outputs\.(\w+)\}\}$")


def cloud_command(
    component: dict, job: dict, step_id: str, values: dict[str, str], folders: dict
) -> list[str]:
    """The compiled component's command with Azure ML's substitutions done by hand."""

    def substitute(match: re.Match[str]) -> str:
        kind, name = match.groups()
        if kind == "outputs":
            return str(folders[step_id][name])
        binding = job["inputs"][name]
        if parameter := PARENT_INPUT.match(binding):
            return values[parameter.group(1)]
        source = PARENT_STEP.match(binding)
        assert source, binding
        return str(folders[source.group(1)][source.group(2)])

    return shlex.split(INPUT.sub(substitute, component["command"]))


@pytest.mark.parametrize(
    "settings",
    [{}, {"RUN_EVALUATION": "false"}, {"ALLOW_RUN_CANCEL": "false"}],
    ids=["default", "no-evaluation", "no-cancel"],
)
def test_compiled_commands_are_the_commands_the_local_orchestrator_runs(
    default_env: Env,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    settings: dict[str, str],
) -> None:
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    env = Env(_env_file=None)  # type: ignore[call-arg]
    ran: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(
        local_orchestrator,
        "_run_step",
        lambda module, argv, _env, _isolate, _source_root: ran.append((module, list(argv))),
    )
    overrides = {
        "model_name": "parity_model",
        "dataset_version": "7",
        "data_file_path": "data/diabetes.csv",
        "caller_run_id": "ci-42",
    }
    result = run_published(env, build_and_publish(env), dict(overrides))
    assert result.status == "completed"

    spec = build_pipeline(env)
    compiled = compile_training(spec, env, tmp_path / "azureml")
    documents = {asset.path: asset.document for asset in compiled.assets}
    pipeline = documents["pipeline.yml"]

    # Same steps in the same order, same parameters with the same defaults.
    assert list(pipeline["jobs"]) == [step.id for step in spec.steps] == result.steps_run
    assert pipeline["inputs"] == spec.parameters
    assert [module for module, _ in ran] == [step.module for step in spec.steps]

    for (module, local_argv), step in zip(ran, spec.steps, strict=True):
        component = documents[f"components/{step.id}.yml"]
        cloud = cloud_command(
            component, pipeline["jobs"][step.id], step.id, overrides, result.step_outputs
        )
        assert local_argv[-2] == "--run_id"
        assert cloud == ["python", "-m", module, *local_argv[:-2]], step.id
        # Every parameter the step uses is a typed component input.
        for name in re.findall(r"\$\{\{parameters\.(\w+)\}\}", " ".join(step.arguments)):
            assert component["inputs"][name] == {"type": "string"}
        assert set(component["outputs"]) == set(step.outputs)
