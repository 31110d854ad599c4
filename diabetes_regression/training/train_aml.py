"""The "Train model" step: a dataset version in, a tracked MLflow model and its test data out.

    python -m diabetes_regression.training.train_aml --model_name NAME \
        --step_output DIR [--dataset_name N] [--dataset_version V|latest] \
        [--data_file_path FILE] [--caller_run_id ID] [--run_id RUN]

With --data_file_path the file is validated and registered as a new version
of the dataset (or the existing version with the same content is used).
When the dataset content, parameters.json's training section and this
package's code are the same as a finished earlier run's, that run's model is
reused instead of training again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
import warnings
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import infer_signature

from diabetes_regression.parameters import PARAMETERS_PATH, ModelParameters, load_parameters
from diabetes_regression.training.plots import prediction_figures
from diabetes_regression.training.train import get_model_metrics, split_data, train_model
from ml_service.data_validation import validate_frame
from ml_service.datasets import DatasetRegistry, DatasetVersion
from ml_service.steps import (
    MODEL_DIR,
    TEST_DATA,
    TRAIN_OUTPUT,
    StepArgumentParser,
    start_step,
    step_run,
    write_json,
)
from ml_service.tracking import code_version
from ml_service.util.env_variables import load_env

log = logging.getLogger(__name__)

TAG_CACHE_KEY = "mlops.train_cache_key"
TAG_MODEL_URI = "mlops.model_uri"
TAG_MODEL_RUN_ID = "mlops.model_run_id"
TAG_REUSED_FROM = "mlops.reused_from"
TAG_GIT_COMMIT = "mlops.git_commit"

# Pinned so that log_model does not spend seconds inferring them, and so that
# `mlflow models serve` rebuilds exactly this environment.
MODEL_REQUIREMENTS = ("mlflow", "scikit-learn", "skops", "numpy", "pandas", "scipy")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = StepArgumentParser(prog="train_aml", description="Train model step.")
    parser.add_argument("--model_name", required=True, help="Registered model name.")
    parser.add_argument("--step_output", required=True, help="Folder for the step's outputs.")
    parser.add_argument("--dataset_name", default=None, help="Dataset name (DATASET_NAME).")
    parser.add_argument("--dataset_version", default="latest", help="Version number or latest.")
    parser.add_argument(
        "--data_file_path", default="", help="Register this file as a new dataset version first."
    )
    parser.add_argument("--caller_run_id", default="", help="Id of the run that started us.")
    parser.add_argument("--run_id", default=None, help="Tracking run to log to.")
    return parser.parse_args(argv)


def cache_key(dataset_digest: str, parameters: ModelParameters) -> str:
    """What decides the trained model: data content, training parameters, training code."""
    digest = hashlib.sha256()
    digest.update(dataset_digest.encode())
    digest.update(parameters.training.model_dump_json().encode())
    digest.update(parameters.data.model_dump_json().encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    for name in ("scikit-learn", "mlflow"):
        digest.update(package_version(name).encode())
    return digest.hexdigest()


def pinned_requirements() -> list[str]:
    """The model's pip requirements at the versions running now."""
    return [f"{name}=={package_version(name)}" for name in MODEL_REQUIREMENTS]


def resolve_dataset(
    registry: DatasetRegistry,
    parameters: ModelParameters,
    args: argparse.Namespace,
) -> DatasetVersion:
    """The dataset version to train on, registering --data_file_path first when given."""
    if args.data_file_path and args.data_file_path.lower() != "none":
        version, created = registry.register(
            args.dataset_name, args.data_file_path, parameters.data
        )
        if not created:
            log.info("  %s has the same content as dataset %s", args.data_file_path, version.ref)
        return version
    return registry.get(args.dataset_name, args.dataset_version)


def dataset_source(uri: str) -> Any:
    """MLflow's source object for a datastore URI (a local file or any fsspec URL)."""
    from mlflow.data.dataset_source_registry import resolve_dataset_source

    with warnings.catch_warnings():
        # file:// matches two equivalent local source types; either is right.
        warnings.simplefilter("ignore", UserWarning)
        return resolve_dataset_source(uri)


def find_reusable_run(experiment_id: str, key: str) -> mlflow.entities.Run | None:
    """A finished training run with the same cache key, if any."""
    runs = mlflow.search_runs(
        experiment_ids=[experiment_id],
        filter_string=f"tags.`{TAG_CACHE_KEY}` = '{key}' and attributes.status = 'FINISHED'",
        max_results=1,
        order_by=["attributes.start_time DESC"],
        output_format="list",
    )
    return runs[0] if runs else None


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the step; returns what it wrote to train_output.json."""
    args = parse_args(argv)
    env = load_env()
    args.dataset_name = args.dataset_name or env.dataset_name
    parameters = load_parameters()
    registry = DatasetRegistry.from_env(env)

    dataset = resolve_dataset(registry, parameters, args)
    key = cache_key(dataset.digest, parameters)
    context = start_step(env)
    previous = find_reusable_run(context.tracking.experiment_id, key)
    frame = registry.load(dataset)
    if previous is None:
        # Checked again because parameters.json's data checks may have changed since
        # the version was registered.
        frame = validate_frame(frame, parameters.data, dataset.ref)
    else:
        # A reusable run passed these very checks on this very content: only the
        # column order and types the checks would give are needed.
        frame = frame[parameters.data.columns].astype("float64")
    split = split_data(
        frame,
        parameters.data.target,
        parameters.training.test_size,
        parameters.training.random_state,
    )
    output = Path(args.step_output)
    shutil.rmtree(output / MODEL_DIR, ignore_errors=True)
    output.mkdir(parents=True, exist_ok=True)

    with step_run(args.run_id, "Train model") as run:
        mlflow.set_tags(
            {
                "mlops.dataset": dataset.ref,
                "mlops.dataset_digest": dataset.digest,
                "mlops.caller_run_id": args.caller_run_id,
                TAG_CACHE_KEY: key,
            }
        )
        mlflow.log_params(
            {
                **parameters.training.model_dump(),
                "dataset_name": dataset.name,
                "dataset_version": dataset.version,
                "dataset_digest": dataset.digest,
                "model_name": args.model_name,
            }
        )
        mlflow.log_input(
            mlflow.data.from_pandas(  # type: ignore[attr-defined]
                frame,
                source=dataset_source(dataset.uri),
                targets=parameters.data.target,
                name=dataset.name,
                digest=dataset.digest[:32],
            ),
            context="training",
            tags={"version": str(dataset.version), "sha256": dataset.digest},
        )
        if previous is not None:
            model_uri = previous.data.tags[TAG_MODEL_URI]
            model_run_id = previous.data.tags.get(TAG_MODEL_RUN_ID, previous.info.run_id)
            metrics: dict[str, float] = {
                m: previous.data.metrics[m]
                for m in ("mse", "rmse", "mae", "r2")
                if m in previous.data.metrics
            }
            # The commit the model was trained at, for its lineage.
            git_commit = previous.data.tags.get(TAG_GIT_COMMIT, "unknown")
            log.info("  reusing the model of run %s: same data, parameters and code", model_run_id)
            mlflow.set_tag(TAG_REUSED_FROM, model_run_id)
        else:
            model = train_model(split["train"]["X"], split["train"]["y"], parameters.training.alpha)
            metrics = get_model_metrics(model, split["test"]["X"], split["test"]["y"])
            for plot_name, figure in prediction_figures(
                split["test"]["y"], model.predict(split["test"]["X"])
            ).items():
                mlflow.log_figure(figure, f"plots/{plot_name}.png")
            X_train = split["train"]["X"]
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                serialization_format="skops",
                signature=infer_signature(X_train, model.predict(X_train.head(5))),
                input_example=X_train.head(2),
                pip_requirements=pinned_requirements(),
            )
            model_uri = info.model_uri
            model_run_id = run.info.run_id
            git_commit = code_version().commit
        # The step's output holds the logged model itself, not a second serialization.
        mlflow.artifacts.download_artifacts(
            artifact_uri=model_uri, dst_path=str(output / MODEL_DIR)
        )
        mlflow.log_metrics(metrics)
        mlflow.set_tags(
            {TAG_MODEL_URI: model_uri, TAG_MODEL_RUN_ID: model_run_id, TAG_GIT_COMMIT: git_commit}
        )
        mlflow.log_artifact(str(PARAMETERS_PATH))

        test = split["test"]["X"].assign(**{parameters.data.target: split["test"]["y"]})
        pd.DataFrame(test).to_parquet(output / TEST_DATA)
        result = {
            "model_name": args.model_name,
            "model_uri": model_uri,
            "model_run_id": model_run_id,
            "step_run_id": run.info.run_id,
            "reused": model_run_id != run.info.run_id,
            "dataset": {"name": dataset.name, "version": dataset.version, "digest": dataset.digest},
            "metrics": metrics,
            "git_commit": git_commit,
            "cache_key": key,
        }
        write_json(output, TRAIN_OUTPUT, result)
        log.info("  %s: %s", dataset.ref, json.dumps({k: round(v, 4) for k, v in metrics.items()}))
        return result


if __name__ == "__main__":
    from ml_service.steps import run_step_cli

    run_step_cli(main)
