"""Build the Train → Evaluate → Register pipeline and publish it.

    python -m ml_service.pipelines.diabetes_regression_build_train_pipeline

It is published under TRAINING_PIPELINE_NAME with version BUILD_BUILDID
(`local` outside CI). Evaluate is left out when RUN_EVALUATION=false.
"""

from __future__ import annotations

import argparse
import logging

from ml_service.pipelines.definition import PipelineSpec, StepSpec
from ml_service.pipelines.published import PublishedPipeline, publish
from ml_service.registry_db import registry_engine
from ml_service.util.env_variables import Env, load_env

log = logging.getLogger(__name__)

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
            "data_file_path": "none",
            "caller_run_id": "none",
        },
        steps=steps,
    )


def build_and_publish(env: Env) -> PublishedPipeline:
    """Build the pipeline and publish it to the registry database."""
    published, created = publish(registry_engine(env), build_pipeline(env))
    spec = published.spec
    log.info(
        "%s pipeline %s version %s (id %s): %s",
        "published" if created else "already published",
        spec.name,
        spec.version,
        published.id,
        " → ".join(step.display_name for step in spec.steps),
    )
    return published


def main(argv: list[str] | None = None) -> PublishedPipeline:
    """Build and publish; `--output_pipeline_id_file` receives the id."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output_pipeline_id_file", default=None)
    args = parser.parse_args(argv)
    published = build_and_publish(load_env())
    if args.output_pipeline_id_file:
        with open(args.output_pipeline_id_file, "w", encoding="utf-8") as handle:
            handle.write(published.id)
    return published


if __name__ == "__main__":
    from ml_service.steps import run_step_cli

    run_step_cli(main)
