"""The "Train model" step: a dataset version in, a tracked MLflow model and its test data out.

    python -m diabetes_regression.training.train_aml --model_name NAME \
        --step_output DIR [--dataset_name N] [--dataset_version V|latest] \
        [--data_file_path FILE] [--caller_run_id ID] [--run_id RUN]

With --data_file_path the file is validated and registered as a new version
of the dataset (or the existing version with the same content is used).
When the dataset content, parameters.json's training and data sections and
this folder's code are the same as a finished earlier run's, that run's model
is reused instead of training again.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from diabetes_regression.parameters import PARAMETERS_PATH, ModelParameters, load_parameters
from diabetes_regression.training.plots import MATPLOTLIB_MODULES, prediction_pngs
from diabetes_regression.training.train import get_model_metrics, split_data, train_model
from ml_service.data.checks import validate_frame
from ml_service.data.datasets import DatasetRegistry, DatasetVersion, dataset_to_train_on
from ml_service.models.twin import CONVERTER_MODULES
from ml_service.pipelines import handoff, side_process
from ml_service.pipelines.contracts import MODEL_DIR, TEST_DATA, DatasetRef, TrainOutput
from ml_service.pipelines.reuse import (
    TrainedModel,
    cache_key,
    find_reusable_run,
    record_model,
    reused_model,
)
from ml_service.pipelines.step import (
    StepArgumentParser,
    optional_value,
    start_step,
    step_run,
)
from ml_service.registry.tags import RunTag
from ml_service.settings import load_env
from ml_service.startup import long_lived_imports
from ml_service.tracking.code_version import code_version
from ml_service.tracking.lineage import log_dataset, pinned_requirements

log = logging.getLogger(__name__)

# What the model needs to load; also what decides it (their versions are in the cache key).
MODEL_REQUIREMENTS = ("mlflow", "scikit-learn", "skops", "numpy", "pandas", "scipy")
TRAINING_PACKAGES = ("scikit-learn", "mlflow")
SPLIT_ARTIFACTS = "split"  # the training run's held-out rows, which a reusing run takes


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = StepArgumentParser(prog="train_aml", description="Train model step.")
    parser.add_argument("--model_name", required=True, help="Registered model name.")
    parser.add_argument("--step_output", required=True, help="Folder for the step's outputs.")
    parser.add_argument("--dataset_name", default=None, help="Dataset name (DATASET_NAME).")
    parser.add_argument("--dataset_version", default="latest", help="Version number or latest.")
    parser.add_argument(
        "--data_file_path",
        type=optional_value,
        default=None,
        help="Register this file as a new dataset version first.",
    )
    parser.add_argument(
        "--caller_run_id", type=optional_value, default=None, help="Id of the run that started us."
    )
    parser.add_argument("--run_id", default=None, help="Tracking run to log to.")
    return parser.parse_args(argv)


def training_frame(
    registry: DatasetRegistry, dataset: DatasetVersion, parameters: ModelParameters, reused: bool
) -> pd.DataFrame:
    """The dataset's content as the model sees it: the checked columns, as float64."""
    frame = registry.load(dataset)
    if reused:
        # The reused run passed these very checks on this very content.
        return frame[parameters.data.columns].astype("float64")
    # Checked again: parameters.json's data checks may have changed since registration.
    return validate_frame(frame, parameters.data, dataset.ref)


def split_frame(
    frame: pd.DataFrame, parameters: ModelParameters
) -> dict[str, dict[str, pd.DataFrame]]:
    """The train/test split parameters.json describes."""
    return split_data(
        frame,
        parameters.data.target,
        parameters.training.test_size,
        parameters.training.random_state,
    )


def write_test_split(
    split: dict[str, dict[str, pd.DataFrame]], parameters: ModelParameters, output: Path
) -> None:
    """Write the held-out rows (features and target) where Evaluate and Register read them."""
    test = split["test"]["X"].assign(**{parameters.data.target: split["test"]["y"]})
    pd.DataFrame(test).to_parquet(output / TEST_DATA)


def copy_recorded_test_split(training_run_id: str, target: Path) -> bool:
    """Copy the held-out split a training run recorded to `target`; False if it has none.

    Runs trained before the split was recorded have none: the caller splits again.
    """
    try:
        with tempfile.TemporaryDirectory(prefix="split-") as folder:
            local = mlflow.artifacts.download_artifacts(
                run_id=training_run_id,
                artifact_path=f"{SPLIT_ARTIFACTS}/{TEST_DATA}",
                dst_path=folder,
            )
            shutil.copyfile(local, target)
    except (MlflowException, OSError) as err:
        log.debug("  no recorded test split in run %s (%s)", training_run_id, err)
        return False
    return True


def fit_and_log(
    split: dict[str, dict[str, pd.DataFrame]], parameters: ModelParameters
) -> tuple[TrainedModel, object]:
    """Fit the model, log its plots and the model itself (skops, signature, input example).

    The plots are rendered in the pipeline's side process while the model is
    logged (here when there is no side process).

    Returns:
        The logged model as the step hands it on, and the fitted estimator.
    """
    with long_lived_imports():
        # skops, MLflow's serializer here, imports every scikit-learn estimator module:
        # one-off objects that live as long as the process (see ml_service/startup.py).
        import skops.io  # noqa: F401

    X_train, y_train = split["train"]["X"], split["train"]["y"]
    X_test, y_test = split["test"]["X"], split["test"]["y"]
    model = train_model(X_train, y_train, parameters.training.alpha)
    metrics = get_model_metrics(model, X_test, y_test)
    actual, predicted = y_test.to_numpy(dtype=float), model.predict(X_test)
    plots = side_process.submit(prediction_pngs, actual, predicted)
    info = mlflow.sklearn.log_model(
        model,
        name="model",
        serialization_format="skops",
        signature=infer_signature(X_train, model.predict(X_train.head(5))),
        input_example=X_train.head(2),
        pip_requirements=pinned_requirements(MODEL_REQUIREMENTS),
    )
    with tempfile.TemporaryDirectory(prefix="plots-") as folder:
        for plot_name, png in side_process.run(
            prediction_pngs, actual, predicted, future=plots
        ).items():
            (Path(folder) / f"{plot_name}.png").write_bytes(png)
        mlflow.log_artifacts(folder, "plots")
    run = mlflow.active_run()
    assert run is not None  # called inside step_run
    trained = TrainedModel(
        model_uri=info.model_uri,
        model_run_id=run.info.run_id,
        metrics=metrics,
        git_commit=code_version(Path(__file__).parent).commit,
    )
    return trained, model


def main(argv: list[str] | None = None) -> TrainOutput:
    """Run the step; returns what it wrote to train_output.json."""
    args = parse_args(argv)
    env = load_env()
    parameters = load_parameters()
    registry = DatasetRegistry.from_env(env)
    dataset = dataset_to_train_on(
        registry,
        args.dataset_name or env.dataset_name,
        args.dataset_version,
        args.data_file_path,
        parameters.data,
    )
    key = cache_key(
        dataset.digest,
        [parameters.training, parameters.data],
        code_dir=Path(__file__).parent,
        packages=TRAINING_PACKAGES,
    )
    context = start_step(env)
    previous = find_reusable_run(context.tracking.experiment_id, key)
    if previous is None:
        # Training ahead: the side process (if the pipeline has one) imports matplotlib for
        # the plots, then what Register's ONNX conversion needs, while this process trains.
        side_process.start(preload=MATPLOTLIB_MODULES + CONVERTER_MODULES)
    frame = training_frame(registry, dataset, parameters, reused=previous is not None)
    output = Path(args.step_output)
    shutil.rmtree(output / MODEL_DIR, ignore_errors=True)
    (output / TEST_DATA).unlink(missing_ok=True)
    output.mkdir(parents=True, exist_ok=True)

    with step_run(args.run_id, "Train model") as run:
        mlflow.set_tag(RunTag.CALLER_RUN_ID, args.caller_run_id or "")
        mlflow.log_params({**parameters.training.model_dump(), "model_name": args.model_name})
        log_dataset(frame, dataset, parameters.data.target)
        fitted = None
        if previous is not None:
            trained = reused_model(previous)
            log.info(
                "  reusing the model of run %s: same data, parameters and code",
                trained.model_run_id,
            )
            mlflow.set_tag(RunTag.REUSED_FROM, trained.model_run_id)
            # The held-out split that run recorded (the same data, split the same way).
            if not copy_recorded_test_split(trained.model_run_id, output / TEST_DATA):
                write_test_split(split_frame(frame, parameters), parameters, output)
        else:
            split = split_frame(frame, parameters)
            trained, fitted = fit_and_log(split, parameters)
            write_test_split(split, parameters, output)
            mlflow.log_artifact(str(output / TEST_DATA), SPLIT_ARTIFACTS)
        # The step's output holds the logged model itself, not a second serialization.
        mlflow.artifacts.download_artifacts(
            artifact_uri=trained.model_uri, dst_path=str(output / MODEL_DIR)
        )
        if fitted is not None:
            # Later in-process steps take the fitted model instead of loading it again.
            handoff.remember(output / MODEL_DIR, fitted)
        mlflow.log_metrics(trained.metrics)
        record_model(trained, key)
        mlflow.log_artifact(str(PARAMETERS_PATH))

        result = TrainOutput(
            model_name=args.model_name,
            model_uri=trained.model_uri,
            model_run_id=trained.model_run_id,
            step_run_id=run.info.run_id,
            reused=trained.model_run_id != run.info.run_id,
            dataset=DatasetRef(name=dataset.name, version=dataset.version, digest=dataset.digest),
            metrics=trained.metrics,
            git_commit=trained.git_commit,
            cache_key=key,
        )
        result.write(output)
        log.info(
            "  %s: %s",
            dataset.ref,
            json.dumps({k: round(v, 4) for k, v in trained.metrics.items()}),
        )
        return result


if __name__ == "__main__":
    from ml_service.pipelines.step import run_step_cli

    run_step_cli(main)
