"""The pipeline definition compiled to Azure ML CLI v2 assets: components, environment, job.

Each step becomes a command component whose command is the step's own
`python -m MODULE ARGUMENTS`, with the definition's placeholders mapped to
Azure ML's: `${{parameters.X}}` → a string input `X` bound to the pipeline
input `X`; `${{outputs.X}}` → a `uri_folder` output; `${{steps.S.outputs.X}}`
→ a `uri_folder` input named after the argument flag before it (so
`--step_input` stays `step_input`). The local orchestrator substitutes the
same placeholders with local folders, so both run the same command line.

Azure ML orders a pipeline's steps by their data only; a step that reads
nothing from the step before it (Register after Evaluate) gets an extra input
`after_<step>` bound to that step's output, unused by its command, so the
order is the definition's, as locally. Pure: no Azure import, no I/O but
reading the conda file's digest.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ml_service.errors import AzureAssetError, SettingsError
from ml_service.pipelines.azureml.assets import (
    CODE_ROOT,
    Asset,
    CompiledAssets,
    relative_path,
    schema,
)
from ml_service.pipelines.definition import PLACEHOLDER, PipelineSpec, StepSpec
from ml_service.settings import Env

PIPELINE_FILE = "pipeline.yml"
COMPUTE_FILE = "compute.yml"
ENVIRONMENT_FILE = "environment.yml"
COMPONENTS_DIR = "components"

# MLOpsPython's `lowpriority` / `dedicated`, as Azure ML CLI v2 spells the tier.
_TIERS = {"lowpriority": "low_priority", "dedicated": "dedicated"}
# Seconds an idle node is kept before the cluster scales down (Azure ML's default).
IDLE_SECONDS_BEFORE_SCALE_DOWN = 120
# The parallel job's input: the data to score.
SCORING_DATA = "scoring_data"
# Settings the steps read from the environment that a pipeline job has to carry.
FORWARDED_SETTINGS = ("MLOPS_DATASTORE_URI", "MLOPS_REGISTRY_URI")
# The scoring script's flag for the folder it records its loaded model in, read by the
# copy step (`ParallelScoringModel`): the parallel job passes its own output folder.
MODEL_RECORD_FLAG = "--model_record_dir"
_UNSAFE = re.compile(r"[^\w@%+=:,./-]")


def component_name(env: Env, step: StepSpec) -> str:
    """Azure ML name of a step's component: `<model package>_<step id>`."""
    return f"{env.sources_dir_train}_{step.id}".lower()


def environment_document(env: Env, out_dir: Path, code_root: Path = CODE_ROOT) -> dict[str, Any]:
    """The Azure ML environment: the base image and the model package's conda file.

    Its version is the conda file's digest, so a changed dependency is a new
    environment version and an unchanged one is reused.

    Raises:
        AzureAssetError: the conda file does not exist.
    """
    conda_file = code_root / env.sources_dir_train / env.aml_env_train_conda_dep_file
    if not conda_file.is_file():
        raise AzureAssetError(
            f"conda file {conda_file} not found: set AML_ENV_TRAIN_CONDA_DEP_FILE to a file "
            "in SOURCES_DIR_TRAIN"
        )
    digest = hashlib.sha256(conda_file.read_bytes()).hexdigest()[:12]
    return {
        "$schema": schema("environment"),
        "name": env.aml_env_name,
        "version": digest,
        "description": f"Built from {env.sources_dir_train}/{env.aml_env_train_conda_dep_file}.",
        "image": env.aml_env_base_image,
        "conda_file": relative_path(conda_file, out_dir),
    }


def compute_document(env: Env) -> dict[str, Any]:
    """The compute cluster, sized by the settings (MLOpsPython's defaults: 0–4 low priority).

    Raises:
        SettingsError: AML_CLUSTER_MIN_NODES is above AML_CLUSTER_MAX_NODES.
    """
    if env.aml_cluster_min_nodes > env.aml_cluster_max_nodes:
        raise SettingsError(
            f"AML_CLUSTER_MIN_NODES ({env.aml_cluster_min_nodes}) is above "
            f"AML_CLUSTER_MAX_NODES ({env.aml_cluster_max_nodes}): lower the first or raise "
            "the second"
        )
    return {
        "$schema": schema("amlCompute"),
        "name": env.aml_compute_cluster_name,
        "type": "amlcompute",
        "size": env.aml_compute_cluster_cpu_sku,
        "min_instances": env.aml_cluster_min_nodes,
        "max_instances": env.aml_cluster_max_nodes,
        "tier": _TIERS[env.aml_cluster_priority],
        "idle_time_before_scale_down": IDLE_SECONDS_BEFORE_SCALE_DOWN,
    }


class _StepCompiler:
    """Maps one step's arguments to a component command, its inputs, outputs and bindings."""

    def __init__(self, step: StepSpec) -> None:
        self.step = step
        self.inputs: dict[str, dict[str, Any]] = {}
        self.outputs: dict[str, dict[str, Any]] = {
            name: {"type": "uri_folder"} for name in step.outputs
        }
        self.bindings: dict[str, str] = {}

    def command(self) -> str:
        parts = ["python", "-m", self.step.module]
        previous = ""
        for argument in self.step.arguments:
            parts.append(self._argument(argument, previous))
            previous = argument
        return " ".join(parts)

    def _argument(self, argument: str, previous: str) -> str:
        if not PLACEHOLDER.search(argument):
            return shlex.quote(argument)
        if _UNSAFE.search(PLACEHOLDER.sub("", argument)):
            raise AzureAssetError(
                f"step {self.step.id!r}: argument {argument!r} mixes a placeholder with text a "
                "shell would split; keep placeholders in arguments of their own"
            )
        return PLACEHOLDER.sub(lambda match: self._placeholder(match, previous), argument)

    def _placeholder(self, match: re.Match[str], previous: str) -> str:
        parts = match.group(1).strip().split(".")
        if parts[0] == "parameters":
            self._add_input(parts[1], {"type": "string"}, f"${{{{parent.inputs.{parts[1]}}}}}")
            return f"${{{{inputs.{parts[1]}}}}}"
        if parts[0] == "outputs":
            return f"${{{{outputs.{parts[1]}}}}}"
        source, output = parts[1], parts[3]
        name = previous.lstrip("-") if previous.startswith("--") else f"{source}_{output}"
        self._add_input(
            name, {"type": "uri_folder"}, f"${{{{parent.jobs.{source}.outputs.{output}}}}}"
        )
        return f"${{{{inputs.{name}}}}}"

    def _add_input(self, name: str, spec: dict[str, Any], binding: str) -> None:
        if self.bindings.get(name, binding) != binding:
            raise AzureAssetError(
                f"step {self.step.id!r}: input {name!r} would be bound to both "
                f"{self.bindings[name]} and {binding}; rename an argument"
            )
        self.inputs[name] = spec
        self.bindings[name] = binding

    def run_after(self, earlier: StepSpec) -> None:
        """Make this step wait for `earlier` through data, if it does not already."""
        if any(f"parent.jobs.{earlier.id}." in binding for binding in self.bindings.values()):
            return
        if not earlier.outputs:
            raise AzureAssetError(
                f"step {earlier.id!r} declares no output, so Azure ML cannot run "
                f"{self.step.id!r} after it; give it an output folder"
            )
        self._add_input(
            f"after_{earlier.id}",
            {
                "type": "uri_folder",
                "description": f"Unused: makes this step run after {earlier.display_name}.",
            },
            f"${{{{parent.jobs.{earlier.id}.outputs.{earlier.outputs[0]}}}}}",
        )


def component_command(step: StepSpec) -> str:
    """The command line a step's component runs (Azure ML placeholders in it)."""
    return _StepCompiler(step).command()


def forwarded_settings(env: Env) -> dict[str, str]:
    """Settings the steps need on Azure ML that the job must carry as environment variables.

    Raises:
        SettingsError: MLOPS_REGISTRY_URI holds a password, which a job definition must not.
    """
    values = {"MLOPS_DATASTORE_URI": env.mlops_datastore_uri, "MLOPS_REGISTRY_URI": None}
    if env.mlops_registry_uri:
        try:
            password = make_url(env.mlops_registry_uri).password
        except ArgumentError as err:
            raise SettingsError(f"MLOPS_REGISTRY_URI is not a database URL: {err}") from err
        if password:
            raise SettingsError(
                "MLOPS_REGISTRY_URI holds a password, which would be written in clear into the "
                "Azure ML job: use a passwordless login (Entra ID, a .pgpass in the environment) "
                "or leave it unset while compiling"
            )
        values["MLOPS_REGISTRY_URI"] = env.mlops_registry_uri
    return {name: value for name, value in values.items() if value}


def _command_component(
    spec: PipelineSpec, env: Env, step: StepSpec, compiler: _StepCompiler, code: str
) -> dict[str, Any]:
    """A step's command component; its inputs dict is the compiler's, so `run_after` adds to it."""
    return {
        "$schema": schema("commandComponent"),
        "type": "command",
        "name": component_name(env, step),
        "display_name": step.display_name,
        "description": f"{step.display_name} step of {spec.name}: python -m {step.module}",
        # Steps read the dataset registry and the champion: never reuse an old result
        # for the same inputs (Train decides reuse itself).
        "is_deterministic": False,
        "inputs": compiler.inputs,
        "outputs": compiler.outputs,
        "code": code,
        "environment": f"file:../{ENVIRONMENT_FILE}",
        "command": compiler.command(),
    }


def compile_training(
    spec: PipelineSpec, env: Env, out_dir: Path, code_root: Path = CODE_ROOT
) -> CompiledAssets:
    """The training pipeline as Azure ML assets, for files written to `out_dir`.

    Args:
        spec: The pipeline definition (`build_pipeline(env)`).
        env: The settings: cluster, environment, experiment.
        out_dir: Where the assets will be written; relative paths in them start there.
        code_root: The folder uploaded as the steps' code (holds ml_service and the model).

    Raises:
        AzureAssetError: the definition cannot be expressed in Azure ML, or a file is missing.
        SettingsError: the settings contradict each other.
    """
    _package(env, code_root)
    compute = compute_document(env)
    environment = environment_document(env, out_dir, code_root)
    environment_variables = forwarded_settings(env)
    code = relative_path(code_root, out_dir / COMPONENTS_DIR)
    components: list[Asset] = []
    jobs: dict[str, Any] = {}
    for index, step in enumerate(spec.steps):
        compiler = _StepCompiler(step)
        document = _command_component(spec, env, step, compiler, code)
        if index > 0:
            compiler.run_after(spec.steps[index - 1])
        path = f"{COMPONENTS_DIR}/{step.id}.yml"
        components.append(Asset(path, document))
        job: dict[str, Any] = {"type": "command", "component": f"./{path}"}
        if compiler.bindings:
            job["inputs"] = dict(compiler.bindings)
        if environment_variables:
            job["environment_variables"] = dict(environment_variables)
        jobs[step.id] = job
    pipeline = _pipeline_document(spec, env, dict(spec.parameters), jobs)
    return CompiledAssets(
        command="pipeline compile --target azureml --pipeline training",
        entry=PIPELINE_FILE,
        assets=(
            Asset(PIPELINE_FILE, pipeline),
            Asset(COMPUTE_FILE, compute),
            Asset(ENVIRONMENT_FILE, environment),
            *components,
        ),
    )


def _pipeline_document(
    spec: PipelineSpec, env: Env, inputs: dict[str, Any], jobs: dict[str, Any]
) -> dict[str, Any]:
    return {
        "$schema": schema("pipelineJob"),
        "type": "pipeline",
        "display_name": f"{spec.name} {spec.version}",
        "experiment_name": env.experiment_name,
        "description": spec.description,
        "tags": {
            "mlops.pipeline_name": spec.name,
            "mlops.pipeline_version": spec.version,
            "mlops.pipeline_digest": spec.digest(),
        },
        "settings": {
            "default_compute": f"azureml:{env.aml_compute_cluster_name}",
            "continue_on_step_failure": False,
        },
        "inputs": inputs,
        "jobs": jobs,
    }


def _package(env: Env, code_root: Path) -> Path:
    package = code_root / env.sources_dir_train
    if not package.is_dir():
        raise AzureAssetError(
            f"SOURCES_DIR_TRAIN {env.sources_dir_train!r} is not a folder in {code_root}: the "
            "model package must be inside the code Azure ML uploads"
        )
    return package


def compile_batch(
    spec: PipelineSpec, env: Env, out_dir: Path, code_root: Path = CODE_ROOT
) -> CompiledAssets:
    """The batch scoring pipeline as Azure ML assets: a parallel job, then the copy step.

    The first step becomes a parallel component over the model package's
    `init()`/`run(mini_batch)` script (BATCHSCORE_SCRIPT_PATH): Azure ML splits
    the scoring data into mini-batches (AML_BATCH_MINI_BATCH_SIZE) over the
    cluster's nodes and appends every returned row to one scores file; the job
    fails when more than AML_BATCH_ERROR_THRESHOLD rows could not be scored.
    The script loads MODEL_NAME's model as the service would (its alias, from
    the registry MLOPS_REGISTRY_URI names) and, given the job's output folder
    (MODEL_RECORD_FLAG), records there which version each process loaded, so
    the copy step files the appended rows under that version. The other steps
    compile as in the training pipeline.

    Args:
        spec: The batch pipeline definition (`batch_scoring.build_pipeline(env)`).
        env: The settings: cluster, environment, mini-batch size, error threshold.
        out_dir: Where the assets will be written; relative paths in them start there.
        code_root: The folder uploaded as the steps' code (holds ml_service and the model).

    Raises:
        AzureAssetError: the scoring script is missing, or a step cannot be expressed.
        SettingsError: the settings contradict each other.
    """
    _package(env, code_root)
    script = code_root / env.sources_dir_train / env.batchscore_script_path
    if not script.is_file():
        raise AzureAssetError(
            f"batch scoring script {script} not found: set BATCHSCORE_SCRIPT_PATH to a file in "
            "SOURCES_DIR_TRAIN"
        )
    compute = compute_document(env)
    environment = environment_document(env, out_dir, code_root)
    environment_variables = {"MODEL_NAME": env.model_name, **forwarded_settings(env)}
    code = relative_path(code_root, out_dir / COMPONENTS_DIR)
    score, *rest = spec.steps
    score_document: dict[str, Any] = {
        "$schema": schema("parallelComponent"),
        "type": "parallel",
        "name": component_name(env, score),
        "display_name": score.display_name,
        "description": (
            f"{score.display_name} step of {spec.name}: init()/run(mini_batch) of "
            f"{env.sources_dir_train}/{env.batchscore_script_path}"
        ),
        "is_deterministic": False,
        "inputs": {SCORING_DATA: {"type": "uri_folder", "description": "Files to score."}},
        "outputs": {name: {"type": "uri_folder"} for name in score.outputs},
        "input_data": f"${{{{inputs.{SCORING_DATA}}}}}",
        "mini_batch_size": env.aml_batch_mini_batch_size,
        "error_threshold": env.aml_batch_error_threshold,
        "logging_level": "INFO",
        "max_concurrency_per_instance": 1,
        "resources": {"instance_count": env.aml_cluster_max_nodes},
        "task": {
            "type": "run_function",
            "code": code,
            "entry_script": script.relative_to(code_root).as_posix(),
            "environment": f"file:../{ENVIRONMENT_FILE}",
            "program_arguments": f"{MODEL_RECORD_FLAG} ${{{{outputs.{score.outputs[0]}}}}}",
            "append_row_to": f"${{{{outputs.{score.outputs[0]}}}}}",
        },
    }
    components = [Asset(f"{COMPONENTS_DIR}/{score.id}.yml", score_document)]
    jobs: dict[str, Any] = {
        score.id: {
            "type": "parallel",
            "component": f"./{COMPONENTS_DIR}/{score.id}.yml",
            "inputs": {SCORING_DATA: f"${{{{parent.inputs.{SCORING_DATA}}}}}"},
            "outputs": {score.outputs[0]: {"type": "uri_folder"}},
            "environment_variables": environment_variables,
        }
    }
    previous = score
    for step in rest:
        compiler = _StepCompiler(step)
        document = _command_component(spec, env, step, compiler, code)
        compiler.run_after(previous)
        path = f"{COMPONENTS_DIR}/{step.id}.yml"
        components.append(Asset(path, document))
        job: dict[str, Any] = {"type": "command", "component": f"./{path}"}
        if compiler.bindings:
            job["inputs"] = dict(compiler.bindings)
        if forwarded_settings(env):
            job["environment_variables"] = forwarded_settings(env)
        jobs[step.id] = job
        previous = step
    used = {
        name for job in jobs.values() for name in _parent_inputs(job.get("inputs", {}).values())
    }
    inputs: dict[str, Any] = {
        name: value for name, value in spec.parameters.items() if name in used
    }
    inputs[SCORING_DATA] = {
        "type": "uri_folder",
        "path": f"azureml:{env.scoring_dataset_name}@latest",
    }
    return CompiledAssets(
        command="pipeline compile --target azureml --pipeline batch",
        entry=PIPELINE_FILE,
        assets=(
            Asset(PIPELINE_FILE, _pipeline_document(spec, env, inputs, jobs)),
            Asset(COMPUTE_FILE, compute),
            Asset(ENVIRONMENT_FILE, environment),
            *components,
        ),
    )


def _parent_inputs(bindings: Any) -> list[str]:
    prefix = "${{parent.inputs."
    return [b[len(prefix) : -2] for b in bindings if str(b).startswith(prefix)]
