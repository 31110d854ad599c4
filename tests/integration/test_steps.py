"""Each step as Azure ML runs it, `python -m MODULE ARGS`, against a temporary workspace."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest
import yaml
from mlflow.tracking import MlflowClient

from ml_service.pipelines.contracts import DatasetRef, TrainOutput
from ml_service.settings import load_env
from ml_service.tracking.store import configure_tracking
from tests.conftest import BAD_EXAMPLES, DIABETES_CSV, run_module

TRAIN = "diabetes_regression.training.train_aml"
EVALUATE = "diabetes_regression.evaluate.evaluate_model"
REGISTER = "diabetes_regression.register.register_model"
MODEL = "diabetes_regression_model"


def _client() -> MlflowClient:
    return configure_tracking(load_env()).client


def assert_no_pickle(model_dir: Path) -> None:
    """The model is saved with skops, and its folder holds no pickle or cloudpickle file."""
    mlmodel = yaml.safe_load((model_dir / "MLmodel").read_text())
    sklearn_flavor = mlmodel["flavors"]["sklearn"]
    assert sklearn_flavor["serialization_format"] == "skops"
    assert (model_dir / sklearn_flavor["pickled_model"]).is_file()
    assert mlmodel["flavors"]["python_function"]["loader_module"] == "mlflow.sklearn"
    for path in model_dir.rglob("*"):
        if path.is_file():
            assert path.suffix not in {".pkl", ".pickle", ".cloudpickle", ".joblib"}, path
            # Pickle protocol 2 and later starts with PROTO (0x80) and the protocol number.
            head = path.read_bytes()[:2]
            assert not (head[:1] == b"\x80" and head[1:2] in _PICKLE_PROTOCOLS), path


_PICKLE_PROTOCOLS = {bytes([n]) for n in range(2, 6)}


def _train(env: dict[str, str], output: Path, data: Path = DIABETES_CSV):  # type: ignore[no-untyped-def]
    return run_module(
        TRAIN,
        ["--model_name", MODEL, "--step_output", str(output), "--data_file_path", str(data),
         "--caller_run_id", "ci-123"],
        env,
    )  # fmt: skip


def test_train_step_logs_everything_and_writes_its_output(
    subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    output = tmp_path / "train"
    done = _train(subprocess_env, output)
    assert done.returncode == 0, done.stderr
    result = json.loads((output / "train_output.json").read_text())
    assert result["metrics"]["mse"] == pytest.approx(3295.71, abs=0.01)
    assert result["dataset"]["name"] == "diabetes_ds" and result["dataset"]["version"] == 1
    assert_no_pickle(output / "model")
    assert (output / "test_data.parquet").is_file()

    client = _client()
    run = client.get_run(result["model_run_id"])
    assert run.data.params["alpha"] == "0.4"
    assert run.data.params["dataset_version"] == "1"
    assert run.data.params["dataset_digest"] == result["dataset"]["digest"]
    assert set(run.data.metrics) >= {"mse", "rmse", "mae", "r2"}
    assert run.data.tags["mlops.caller_run_id"] == "ci-123"
    assert run.inputs.dataset_inputs[0].dataset.name == "diabetes_ds"
    model_info = mlflow.models.get_model_info(result["model_uri"])
    assert [c.name for c in model_info.signature.inputs.inputs] == [
        "AGE", "SEX", "BMI", "BP", "S1", "S2", "S3", "S4", "S5", "S6",
    ]  # fmt: skip
    assert model_info.saved_input_example_info is not None
    assert_no_pickle(Path(mlflow.artifacts.download_artifacts(result["model_uri"])))
    loaded = mlflow.pyfunc.load_model(result["model_uri"])
    assert loaded.predict(
        mlflow.models.Model.load(result["model_uri"]).load_input_example(
            mlflow.artifacts.download_artifacts(result["model_uri"])
        )
    ).shape == (2,)


def test_evaluate_and_register_steps(subprocess_env: dict[str, str], tmp_path: Path) -> None:
    output = tmp_path / "train"
    assert _train(subprocess_env, output).returncode == 0
    evaluated = run_module(
        EVALUATE,
        ["--model_name", MODEL, "--step_input", str(output), "--step_output", str(tmp_path / "e")],
        subprocess_env,
    )
    assert evaluated.returncode == 0, evaluated.stderr
    evaluation = json.loads((tmp_path / "e" / "evaluation.json").read_text())
    assert evaluation["outcome"] == "passed" and evaluation["champion"] is None

    registered = run_module(
        REGISTER, ["--model_name", MODEL, "--step_input", str(output)], subprocess_env
    )
    assert registered.returncode == 0, registered.stderr
    client = _client()
    champion = client.get_model_version_by_alias(MODEL, "champion")
    assert str(champion.version) == "1"
    train_output = json.loads((output / "train_output.json").read_text())
    assert champion.tags["run_id"] == train_output["model_run_id"]
    assert champion.tags["dataset_digest"] == train_output["dataset"]["digest"]
    assert champion.tags["dataset_version"] == "1"
    assert champion.tags["experiment"] == "mlopspython"
    assert set(champion.tags) >= {"mse", "rmse", "mae", "r2", "git_commit"}
    assert "BuildId" not in champion.tags

    # The same run again: not better than itself, so nothing is registered; a run
    # that may not cancel is refused, since a run gives at most one version.
    cancelled = run_module(
        REGISTER, ["--model_name", MODEL, "--step_input", str(output)], subprocess_env
    )
    assert cancelled.returncode == 0, cancelled.stderr
    assert "already diabetes_regression_model version 1" in cancelled.stderr
    again = run_module(
        REGISTER,
        ["--model_name", MODEL, "--step_input", str(output), "--allow_run_cancel", "false"],
        subprocess_env,
    )
    assert again.returncode == 1
    assert again.stderr.strip().splitlines()[-1].startswith("error: the model of run ")
    assert "Traceback" not in again.stderr
    assert len(client.search_model_versions(f"name = '{MODEL}'")) == 1

    # The same model again is not better than itself: evaluation says so, exit 0.
    not_better = run_module(
        EVALUATE,
        ["--model_name", MODEL, "--step_input", str(output), "--step_output", str(tmp_path / "e2"),
         "--allow_run_cancel", "true"],
        subprocess_env,
    )  # fmt: skip
    assert not_better.returncode == 0, not_better.stderr
    assert json.loads((tmp_path / "e2" / "evaluation.json").read_text())["outcome"] == "cancelled"


def test_build_id_and_uri_are_tagged(subprocess_env: dict[str, str], tmp_path: Path) -> None:
    env = {**subprocess_env, "BUILD_BUILDID": "20261127.1", "BUILD_URI": "https://ci/builds/1"}
    output = tmp_path / "train"
    assert _train(env, output).returncode == 0
    assert (
        run_module(REGISTER, ["--model_name", MODEL, "--step_input", str(output)], env).returncode
        == 0
    )
    version = _client().get_model_version(MODEL, "1")
    assert version.tags["BuildId"] == "20261127.1"
    assert version.tags["BuildUri"] == "https://ci/builds/1"


@pytest.mark.parametrize(
    ("module", "args", "message"),
    [
        (TRAIN, ["--step_output", "out"], "the following arguments are required: --model_name"),
        (TRAIN, ["--model_name", "m", "--step_output", "out"], "dataset 'diabetes_ds' has no versions"),
        (TRAIN, ["--model_name", "m", "--step_output", "out", "--data_file_path",
                 str(BAD_EXAMPLES / "missing_column.csv")], "column 'S6': column is missing"),
        (EVALUATE, ["--model_name", "m", "--step_input", "nowhere"], "nowhere/train_output.json not found"),
        (EVALUATE, ["--model_name", "m", "--step_input", "x", "--allow_run_cancel", "maybe"],
         "expected true or false, got 'maybe'"),
        (REGISTER, ["--model_name", "m", "--step_input", "nowhere"], "must be the output folder of the Train model step"),
    ],
)  # fmt: skip
def test_step_mistakes_are_one_line(
    subprocess_env: dict[str, str], module: str, args: list[str], message: str
) -> None:
    done = run_module(module, args, subprocess_env)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and message in last


@pytest.mark.parametrize("module", [EVALUATE, REGISTER])
def test_a_step_refuses_another_model_s_training(
    subprocess_env: dict[str, str], tmp_path: Path, module: str
) -> None:
    TrainOutput(
        model_name=MODEL,
        model_uri="models:/m-0",
        model_run_id="r",
        step_run_id="r",
        reused=False,
        dataset=DatasetRef(name="diabetes_ds", version=1, digest="0" * 64),
        metrics={"mse": 1.0},
        git_commit="unknown",
        cache_key="k",
    ).write(tmp_path / "trained")
    done = run_module(
        module, ["--model_name", "other", "--step_input", str(tmp_path / "trained")], subprocess_env
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "--model_name 'other' disagrees" in done.stderr.strip().splitlines()[-1]
