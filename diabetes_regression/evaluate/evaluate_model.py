"""The "Evaluate" step: is the challenger better than the current @champion?

    python -m diabetes_regression.evaluate.evaluate_model --model_name NAME \
        --step_input TRAIN_OUTPUT_DIR [--step_output DIR] \
        [--allow_run_cancel true|false] [--run_id RUN]

Both models are scored on the same test data (the challenger's held-out
split), on the metric and minimum improvement set in parameters.json. The first
model always passes. A challenger that is not better cancels the pipeline run
when --allow_run_cancel is true (an expected outcome, exit 0): its parent run
ends KILLED, as Azure ML's `run.parent.cancel()` would leave it, and the
orchestrator skips the remaining steps. Otherwise the pipeline goes on.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import mlflow
import pandas as pd
from mlflow.entities import RunStatus
from mlflow.entities.model_registry import ModelVersion

from diabetes_regression.parameters import EvaluationParameters, ModelParameters, load_parameters
from diabetes_regression.training.train import get_model_metrics
from ml_service.pipelines import handoff
from ml_service.pipelines.contracts import MODEL_DIR, TEST_DATA, EvaluationOutput, TrainOutput
from ml_service.pipelines.step import StepArgumentParser, parse_bool, start_step, step_run
from ml_service.registry.models import get_alias
from ml_service.registry.tags import Alias, RunTag

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    """The outcome of challenger vs champion on one metric."""

    better: bool
    metric: str
    challenger: float
    champion: float | None
    reason: str


def compare(challenger: float, champion: float | None, rule: EvaluationParameters) -> Verdict:
    """Decide whether `challenger` beats `champion` on `rule.metric`.

    The challenger must improve on the champion by more than
    `rule.min_improvement` (a fraction of the champion's value); equal is not better.
    """
    metric = rule.metric
    if champion is None:
        return Verdict(True, metric, challenger, None, "no champion yet: the first model passes")
    sign = 1.0 if rule.direction == "maximize" else -1.0
    gain = sign * (challenger - champion)
    needed = rule.min_improvement * abs(champion)
    better = gain > needed
    relation = "better" if better else "not better"
    reason = f"{metric} {challenger:.4f} vs champion {champion:.4f}: {relation}" + (
        f" (needs {rule.min_improvement:.2%} improvement)" if rule.min_improvement else ""
    )
    return Verdict(better, metric, challenger, champion, reason)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = StepArgumentParser(prog="evaluate_model", description="Evaluate step.")
    parser.add_argument("--model_name", required=True, help="Registered model name.")
    parser.add_argument("--step_input", required=True, help="Output folder of Train model.")
    parser.add_argument("--step_output", default=None, help="Folder for evaluation.json.")
    parser.add_argument(
        "--allow_run_cancel", type=parse_bool, default=True, help="Cancel the run if not better."
    )
    parser.add_argument("--run_id", default=None, help="Tracking run to log to.")
    return parser.parse_args(argv)


def score_on_test_data(
    step_input: str | Path,
    model_name: str,
    champion: ModelVersion | None,
    parameters: ModelParameters,
) -> tuple[float, float | None]:
    """The challenger (Train model's output) and `champion` scored on the challenger's test data.

    Returns:
        The challenger's and the champion's value of the evaluation metric (None: no champion).
    """
    metric, target = parameters.evaluation.metric, parameters.data.target
    test = pd.read_parquet(Path(step_input) / TEST_DATA)
    X_test, y_test = test.drop(columns=[target]), test[target]
    # Each model is loaded once per process (in-process steps share them; see handoff).
    challenger = handoff.sklearn_model(Path(step_input) / MODEL_DIR)
    challenger_value = get_model_metrics(challenger, X_test, y_test)[metric]
    if champion is None:
        return challenger_value, None
    # By version: the alias may move while we score (Register re-checks).
    champion_model = handoff.sklearn_version(champion)
    return challenger_value, get_model_metrics(champion_model, X_test, y_test)[metric]


def main(argv: list[str] | None = None) -> EvaluationOutput:
    """Run the step; returns what it wrote to evaluation.json."""
    args = parse_args(argv)
    parameters = load_parameters()
    rule = parameters.evaluation
    train_output = TrainOutput.read(args.step_input, model_name=args.model_name)
    context = start_step()

    with step_run(args.run_id, "Evaluate") as run:
        champion_version = get_alias(context.tracking.client, args.model_name, Alias.CHAMPION)
        champion_value: float | None
        if champion_version is not None and champion_version.run_id == train_output.model_run_id:
            # The champion is this very model (training was reused): same score by definition.
            challenger_value = champion_value = float(train_output.metrics[rule.metric])
        else:
            challenger_value, champion_value = score_on_test_data(
                args.step_input, args.model_name, champion_version, parameters
            )
        if champion_value is not None:
            mlflow.log_metric(f"champion_{rule.metric}", champion_value)
        mlflow.log_metric(f"challenger_{rule.metric}", challenger_value)
        verdict = compare(challenger_value, champion_value, rule)

        outcome: Literal["passed", "cancelled", "continued"] = "passed"
        if not verdict.better:
            outcome = "cancelled" if args.allow_run_cancel else "continued"
        mlflow.set_tags({RunTag.EVALUATION: outcome, RunTag.EVALUATION_REASON: verdict.reason})
        log.info("  %s", verdict.reason)
        result = EvaluationOutput(
            model_name=args.model_name,
            better=verdict.better,
            metric=verdict.metric,
            challenger=verdict.challenger,
            champion=verdict.champion,
            reason=verdict.reason,
            outcome=outcome,
            champion_version=str(champion_version.version) if champion_version else None,
            challenger_model_uri=train_output.model_uri,
        )
        if args.step_output:
            result.write(args.step_output)
        if outcome == "cancelled":
            parent_id = run.data.tags.get(RunTag.PARENT_RUN_ID)
            if parent_id:
                context.tracking.client.set_terminated(
                    parent_id, RunStatus.to_string(RunStatus.KILLED)
                )
            log.info("  the model is not better than the champion: cancelling the pipeline run")
        elif outcome == "continued":
            log.info(
                "  the model is not better than the champion; going on (allow_run_cancel=false)"
            )
        return result


if __name__ == "__main__":
    from ml_service.pipelines.step import run_step_cli

    run_step_cli(main)
