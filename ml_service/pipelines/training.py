"""The training pipeline (Train → Evaluate → Register) as the settings describe it; publish, run.

It is published under TRAINING_PIPELINE_NAME with version BUILD_BUILDID
(`local` outside CI). Evaluate is left out when RUN_EVALUATION=false. The step
modules come from the model package (SOURCES_DIR_TRAIN and the *_SCRIPT_PATH
settings); the platform never imports them by name.
"""

from __future__ import annotations

from ml_service.pipelines.definition import NO_VALUE, PipelineSpec, StepSpec, with_parameters
from ml_service.pipelines.local_orchestrator import PipelineRunResult, run_pipeline
from ml_service.pipelines.published import PublishedPipeline, find, publish_logged
from ml_service.registry.database import registry_engine
from ml_service.settings import Env
from ml_service.tracking.store import configure_tracking

TRAIN, EVALUATE, REGISTER = "train", "evaluate", "register"


def build_pipeline(env: Env) -> PipelineSpec:
    """The training pipeline as the settings describe it."""
    train_output = f"${{{{steps.{TRAIN}.outputs.step_output}}}}"
    steps = [
        StepSpec(
            id=TRAIN,
            display_name="Train model",
            module=env.step_module(env.train_script_path),
            arguments=[
                "--model_name", "${{parameters.model_name}}",
                "--step_output", "${{outputs.step_output}}",
                "--dataset_name", env.dataset_name,
                "--dataset_version", "${{parameters.dataset_version}}",
                "--data_file_path", "${{parameters.data_file_path}}",
                "--caller_run_id", "${{parameters.caller_run_id}}",
            ],
            outputs=["step_output"],
        )
    ]  # fmt: skip
    if env.run_evaluation:
        steps.append(
            StepSpec(
                id=EVALUATE,
                display_name="Evaluate",
                module=env.step_module(env.evaluate_script_path),
                arguments=[
                    "--model_name", "${{parameters.model_name}}",
                    "--step_input", train_output,
                    "--step_output", "${{outputs.step_output}}",
                    "--allow_run_cancel", str(env.allow_run_cancel).lower(),
                ],
                outputs=["step_output"],
            )
        )  # fmt: skip
    # Register re-checks the challenger against the champion of the moment; it
    # may cancel only when Evaluate may (without Evaluate every model is kept).
    register_may_cancel = env.run_evaluation and env.allow_run_cancel
    steps.append(
        StepSpec(
            id=REGISTER,
            display_name="Register",
            module=env.step_module(env.register_script_path),
            arguments=[
                "--model_name", "${{parameters.model_name}}",
                "--step_input", train_output,
                "--step_output", "${{outputs.step_output}}",
                "--allow_run_cancel", str(register_may_cancel).lower(),
            ],
            outputs=["step_output"],
        )
    )  # fmt: skip
    return PipelineSpec(
        name=env.training_pipeline_name,
        version=env.build_buildid,
        description="Model training/retraining pipeline",
        parameters={
            "model_name": env.model_name,
            "dataset_version": env.dataset_version,
            "data_file_path": NO_VALUE,
            "caller_run_id": NO_VALUE,
        },
        steps=steps,
    )


def build_and_publish(env: Env) -> PublishedPipeline:
    """Build the pipeline and publish it to the registry database."""
    return publish_logged(registry_engine(env), build_pipeline(env))


def find_published(env: Env) -> PublishedPipeline:
    """The pipeline published under TRAINING_PIPELINE_NAME and BUILD_BUILDID."""
    return find(registry_engine(env), env.training_pipeline_name, env.build_buildid)


def run_published(
    env: Env,
    published: PublishedPipeline,
    parameters: dict[str, str | None],
    isolate_steps: bool = False,
    description: str | None = None,
) -> PipelineRunResult:
    """Run a published pipeline with these parameter values (None: the default)."""
    tracking = configure_tracking(env)
    values = with_parameters(published.spec, parameters)
    return run_pipeline(
        published, values, env, tracking, isolate_steps=isolate_steps, description=description
    )
