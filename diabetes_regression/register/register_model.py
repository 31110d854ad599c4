"""The "Register" step: the trained model becomes a new version, and @champion moves to it.

    python -m diabetes_regression.register.register_model --model_name NAME \
        --step_input TRAIN_OUTPUT_DIR [--step_output DIR] [--run_id RUN]

The version carries its lineage as tags: the run, the experiment, the dataset
name/version/digest, the git commit, BuildId/BuildUri when set, and the metrics
listed in parameters.json. A run's model is registered at most once.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

import mlflow

from diabetes_regression.parameters import load_parameters
from ml_service import model_registry as registry
from ml_service.steps import (
    REGISTRATION_OUTPUT,
    TAG_PARENT_RUN_ID,
    TRAIN_OUTPUT,
    StepArgumentParser,
    read_json,
    start_step,
    step_run,
    write_json,
)

log = logging.getLogger(__name__)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = StepArgumentParser(prog="register_model", description="Register step.")
    parser.add_argument("--model_name", required=True, help="Registered model name.")
    parser.add_argument("--step_input", required=True, help="Output folder of Train model.")
    parser.add_argument("--step_output", default=None, help="Folder for registration.json.")
    parser.add_argument("--run_id", default=None, help="Tracking run to log to.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the step; returns what it wrote to registration.json."""
    args = parse_args(argv)
    parameters = load_parameters()
    train_output = read_json(args.step_input, TRAIN_OUTPUT, "the Train model step")
    context = start_step()
    env = context.env
    dataset = train_output["dataset"]
    metrics = train_output["metrics"]

    with step_run(args.run_id, "Register") as run:
        tags: dict[str, str] = {
            registry.TAG_RUN_ID: train_output["model_run_id"],
            registry.TAG_EXPERIMENT: env.experiment_name,
            registry.TAG_DATASET_NAME: dataset["name"],
            registry.TAG_DATASET_VERSION: str(dataset["version"]),
            registry.TAG_DATASET_DIGEST: dataset["digest"],
            registry.TAG_GIT_COMMIT: train_output["git_commit"],
            **{name: f"{metrics[name]:.6g}" for name in parameters.registration.tags},
        }
        pipeline_run_id = run.data.tags.get(TAG_PARENT_RUN_ID)
        if pipeline_run_id:
            tags[registry.TAG_PIPELINE_RUN_ID] = pipeline_run_id
        if env.build_buildid != "local":
            tags[registry.TAG_BUILD_ID] = env.build_buildid
        if env.build_uri:
            tags[registry.TAG_BUILD_URI] = env.build_uri
        version = registry.register_version(
            context.tracking.client,
            args.model_name,
            train_output["model_uri"],
            train_output["model_run_id"],
            tags,
        )
        mlflow.set_tags(
            {"mlops.registered_model": args.model_name, "mlops.registered_version": version.version}
        )
        log.info(
            "  registered %s version %s as @%s", args.model_name, version.version, registry.CHAMPION
        )
        result = {
            "model_name": args.model_name,
            "version": version.version,
            "alias": registry.CHAMPION,
        }
        if args.step_output:
            write_json(args.step_output, REGISTRATION_OUTPUT, result)
        return result


if __name__ == "__main__":
    from ml_service.steps import run_step_cli

    run_step_cli(main)
