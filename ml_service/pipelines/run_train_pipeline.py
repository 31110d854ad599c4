"""MLOpsPython's command that finds the published training pipeline and runs it.

    python -m ml_service.pipelines.run_train_pipeline [--model_name NAME] \
        [--dataset_version V] [--data_file_path FILE] [--caller_run_id ID] \
        [--output_pipeline_id_file FILE] [--skip_train_execution] [--isolate_steps] \
        [--description TEXT] [--target local|azureml]

The pipeline is looked up by TRAINING_PIPELINE_NAME and BUILD_BUILDID. With
`--target azureml` it is compiled and submitted to the Azure ML workspace instead
(`ml_service.pipelines.azureml.submit`).
"""

from __future__ import annotations

import argparse
import logging

from ml_service.startup import import_ahead_of_mlflow

# Before the imports below bring in MLflow: the in-process Train step's skops is then
# cheap to import, as in `mlops run`.
import_ahead_of_mlflow()

from ml_service.pipelines.local_orchestrator import PipelineRunResult  # noqa: E402
from ml_service.pipelines.step import StepArgumentParser  # noqa: E402
from ml_service.pipelines.training import find_published, run_published  # noqa: E402
from ml_service.settings import load_env  # noqa: E402

log = logging.getLogger(__name__)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = StepArgumentParser(prog="run_train_pipeline", description=__doc__.splitlines()[0])
    parser.add_argument("--model_name", default=None, help="Default: MODEL_NAME.")
    parser.add_argument("--dataset_version", default=None, help="Default: DATASET_VERSION.")
    parser.add_argument("--data_file_path", default=None, help="Register and train on this file.")
    parser.add_argument("--caller_run_id", default=None, help="Id of the calling CI run.")
    parser.add_argument("--output_pipeline_id_file", default=None, help="Write the id here.")
    parser.add_argument(
        "--skip_train_execution", action="store_true", help="Only find the pipeline."
    )
    parser.add_argument(
        "--isolate_steps", action="store_true", help="Run each step in its own process."
    )
    parser.add_argument(
        "--description", default=None, help="What this run tries and why (the run's note)."
    )
    parser.add_argument(
        "--target",
        choices=("local", "azureml"),
        default="local",
        help="Run here, or submit to the Azure ML workspace the settings name.",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> PipelineRunResult | None:
    """Find the pipeline, write its id if asked, and run it unless told to skip."""
    args = parse_args(argv)
    if args.target == "azureml":
        from ml_service.pipelines.azureml.submit import run_train_pipeline_on_azureml

        run_train_pipeline_on_azureml(args)
        return None
    env = load_env()
    published = find_published(env)
    log.info(
        "found pipeline %s version %s (id %s)",
        env.training_pipeline_name,
        env.build_buildid,
        published.id,
    )
    if args.output_pipeline_id_file:
        with open(args.output_pipeline_id_file, "w", encoding="utf-8") as handle:
            handle.write(published.id)
    if args.skip_train_execution:
        return None
    return run_published(
        env,
        published,
        {
            "model_name": args.model_name,
            "dataset_version": args.dataset_version,
            "data_file_path": args.data_file_path,
            "caller_run_id": args.caller_run_id,
        },
        isolate_steps=args.isolate_steps,
        description=args.description,
    )


if __name__ == "__main__":
    from ml_service.pipelines.step import run_step_cli

    run_step_cli(main)
