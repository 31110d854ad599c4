"""The "Register" step: the trained model becomes a new version, and @champion moves to it.

    python -m diabetes_regression.register.register_model --model_name NAME \
        --step_input TRAIN_OUTPUT_DIR [--step_output DIR] [--allow_run_cancel true|false] \
        [--run_id RUN]

The version carries its lineage as tags: the run, the experiment, the dataset
name/version/digest, the git commit, BuildId/BuildUri when set, and the metrics
listed in parameters.json. A run's model is registered at most once.

The model gets an ONNX twin (`ml_service.models.twin`): converted with skl2onnx,
checked against the model's own predictions on the held-out test split (the
largest difference becomes the tag `onnx_max_abs_diff`), and stored with the
logged model only within parameters.json's `registration.onnx_tolerance`. A
model that cannot be converted is registered without one (the tag `onnx_twin`
says why); the service then scores it through its MLflow flavor.

Pipelines run concurrently (a team shares one server), so the champion that
Evaluate beat may have been replaced since. Under a per-model lock in the
project's database, the challenger is compared again, with Evaluate's own
`compare()`, against the champion of that moment: @champion moves only to a
better model. A challenger that is no longer better cancels the pipeline run
when --allow_run_cancel is true (no version), and is registered without the
alias otherwise.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.entities import RunStatus
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from diabetes_regression.evaluate.evaluate_model import compare, score_on_test_data
from diabetes_regression.parameters import ModelParameters, load_parameters
from ml_service.models.twin import TwinCheck, make_twin
from ml_service.pipelines import handoff, side_process
from ml_service.pipelines.contracts import MODEL_DIR, TEST_DATA, RegistrationOutput, TrainOutput
from ml_service.pipelines.step import StepArgumentParser, parse_bool, start_step, step_run
from ml_service.registry.database import model_lock, registry_engine
from ml_service.registry.models import attach_twin, register_challenger, twin_tags
from ml_service.registry.tags import Alias, RunTag, VersionTag

log = logging.getLogger(__name__)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = StepArgumentParser(prog="register_model", description="Register step.")
    parser.add_argument("--model_name", required=True, help="Registered model name.")
    parser.add_argument("--step_input", required=True, help="Output folder of Train model.")
    parser.add_argument("--step_output", default=None, help="Folder for registration.json.")
    parser.add_argument(
        "--allow_run_cancel",
        type=parse_bool,
        default=True,
        help="Cancel the run if the model is no longer better than the champion.",
    )
    parser.add_argument("--run_id", default=None, help="Tracking run to log to.")
    return parser.parse_args(argv)


def champion_judge(
    model_name: str, step_input: str, parameters: ModelParameters
) -> Callable[[ModelVersion | None], tuple[bool, str]]:
    """A judge that scores the challenger and a champion on the challenger's test data.

    The same data and `compare()` rule as the Evaluate step, so the two never
    disagree. Models are loaded only when there is a champion to compare with.
    """
    rule = parameters.evaluation

    def judge(champion: ModelVersion | None) -> tuple[bool, str]:
        if champion is None:
            verdict = compare(float("nan"), None, rule)  # the first model passes unscored
        else:
            challenger_value, champion_value = score_on_test_data(
                step_input, model_name, champion, parameters
            )
            verdict = compare(challenger_value, champion_value, rule)
        return verdict.better, verdict.reason

    return judge


def onnx_twin(step_input: str | Path, parameters: ModelParameters) -> TwinCheck:
    """The challenger's ONNX twin, checked on its held-out test split (Train model's output).

    Made in the pipeline's side process when there is one (it imported skl2onnx
    while Train and Evaluate ran), here otherwise.
    """
    features = list(parameters.data.features)
    test = pd.read_parquet(Path(step_input) / TEST_DATA, columns=features)
    challenger = handoff.sklearn_model(Path(step_input) / MODEL_DIR)
    return side_process.run(make_twin, challenger, test, parameters.registration.onnx_tolerance)


def main(argv: list[str] | None = None) -> RegistrationOutput:
    """Run the step; returns what it wrote to registration.json."""
    args = parse_args(argv)
    parameters = load_parameters()
    train_output = TrainOutput.read(args.step_input, model_name=args.model_name)
    context = start_step()
    env = context.env
    dataset = train_output.dataset
    metrics = train_output.metrics

    with step_run(args.run_id, "Register") as run:
        tags: dict[str, str] = {
            VersionTag.RUN_ID: train_output.model_run_id,
            VersionTag.EXPERIMENT: env.experiment_name,
            VersionTag.DATASET_NAME: dataset.name,
            VersionTag.DATASET_VERSION: str(dataset.version),
            VersionTag.DATASET_DIGEST: dataset.digest,
            VersionTag.GIT_COMMIT: train_output.git_commit,
            **{name: f"{metrics[name]:.6g}" for name in parameters.registration.tags},
        }
        pipeline_run_id = run.data.tags.get(RunTag.PARENT_RUN_ID)
        if pipeline_run_id:
            tags[VersionTag.PIPELINE_RUN_ID] = pipeline_run_id
        if env.build_buildid != "local":
            tags[VersionTag.BUILD_ID] = env.build_buildid
        if env.build_uri:
            tags[VersionTag.BUILD_URI] = env.build_uri
        twin = onnx_twin(args.step_input, parameters)
        tags.update(twin_tags(twin))
        if twin.attached:
            try:
                # Stored before the version exists, so no reader of the version misses it.
                attach_twin(context.tracking.client, train_output.model_uri, twin)
            except (MlflowException, ValueError) as err:
                # A store that keeps no logged-model artifacts: registered as before.
                tags[VersionTag.ONNX_TWIN] = f"none: the twin could not be stored: {err}"
                log.warning("  ONNX twin not stored: %s", err)
            else:
                log.info(
                    "  ONNX twin attached (%s inputs, max abs diff %.3g on the test split)",
                    twin.input_type,
                    twin.max_abs_diff,
                )
        else:
            log.info("  no ONNX twin: %s", twin.reason)
        registration = register_challenger(
            context.tracking.client,
            args.model_name,
            train_output.model_uri,
            train_output.model_run_id,
            tags,
            judge=champion_judge(args.model_name, args.step_input, parameters),
            lock=model_lock(registry_engine(env), args.model_name),
            keep_if_not_better=not args.allow_run_cancel,
        )
        version = registration.version
        result = RegistrationOutput(
            model_name=args.model_name,
            version=str(version.version) if version else None,
            alias=Alias.CHAMPION if registration.promoted else None,
            reason=registration.reason,
        )
        if version is None:
            mlflow.set_tags({RunTag.REGISTRATION: "cancelled"})
            log.info("  %s", registration.reason)
            log.info("  no longer better than the champion: cancelling the pipeline run")
            if pipeline_run_id:
                context.tracking.client.set_terminated(
                    pipeline_run_id, RunStatus.to_string(RunStatus.KILLED)
                )
        else:
            mlflow.set_tags(
                {
                    RunTag.REGISTERED_MODEL: args.model_name,
                    RunTag.REGISTERED_VERSION: version.version,
                }
            )
            log.info(
                "  registered %s version %s%s",
                args.model_name,
                version.version,
                f" as @{Alias.CHAMPION}"
                if registration.promoted
                else f" (@{Alias.CHAMPION} stays)",
            )
        if args.step_output:
            result.write(args.step_output)
        return result


if __name__ == "__main__":
    from ml_service.pipelines.step import run_step_cli

    run_step_cli(main)
