"""The Register step's ONNX twin, through the whole pipeline on the bundled data."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.exceptions import MlflowException
from sklearn.kernel_ridge import KernelRidge

from diabetes_regression.parameters import load_parameters
from diabetes_regression.register import register_model
from diabetes_regression.training import train_aml
from diabetes_regression.training.train import split_data
from ml_service.models.load import load_model
from ml_service.models.resolve import resolve_model_uri
from ml_service.pipelines import run_train_pipeline
from ml_service.pipelines.diabetes_regression_build_train_pipeline import main as build_main
from ml_service.pipelines.local_orchestrator import COMPLETED
from ml_service.settings import load_env
from ml_service.tracking.store import configure_tracking
from tests.conftest import DIABETES_CSV

MODEL = "diabetes_regression_model"


def _run_pipeline() -> None:
    build_main([])
    assert run_train_pipeline.main(["--data_file_path", str(DIABETES_CSV)]).status == COMPLETED


def _test_split() -> pd.DataFrame:
    """The held-out rows the Register step checks the twin on."""
    parameters = load_parameters()
    frame = pd.read_csv(DIABETES_CSV)[parameters.data.columns].astype("float64")
    split = split_data(
        frame,
        parameters.data.target,
        parameters.training.test_size,
        parameters.training.random_state,
    )
    return split["test"]["X"]


def _version_tags() -> dict[str, str]:
    client = configure_tracking(load_env()).client
    return dict(client.get_model_version(MODEL, "1").tags)


@pytest.mark.usefixtures("workspace")
def test_the_registered_version_has_a_twin_that_predicts_like_its_flavor() -> None:
    _run_pipeline()
    tags = _version_tags()
    assert tags["onnx_twin"] == "onnx/model.onnx"
    assert float(tags["onnx_max_abs_diff"]) <= load_parameters().registration.onnx_tolerance

    uri = f"models:/{MODEL}/1"
    # Stored with the logged model: whatever downloads the version gets it.
    downloaded = Path(mlflow.artifacts.download_artifacts(uri))
    assert (downloaded / "onnx" / "model.onnx").is_file()
    # The MLflow model itself is unchanged: same flavors, still served by `mlflow models serve`.
    mlmodel = yaml.safe_load((downloaded / "MLmodel").read_text())
    assert set(mlmodel["flavors"]) == {"python_function", "sklearn"}

    test = _test_split()
    flavor = mlflow.pyfunc.load_model(uri).predict(test)
    twin = load_model(resolve_model_uri(uri, load_env()))
    assert twin.runtime == "onnx"
    np.testing.assert_allclose(twin.predict(test.to_numpy()), flavor, rtol=0, atol=1e-9)


@pytest.mark.usefixtures("workspace")
def test_an_unconvertible_model_registers_as_before_and_is_served_by_its_flavor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kernel_ridge = KernelRidge(alpha=0.4)
    monkeypatch.setattr(train_aml, "train_model", lambda X, y, alpha: kernel_ridge.fit(X, y))
    _run_pipeline()
    tags = _version_tags()
    assert tags["onnx_twin"].startswith("none: skl2onnx cannot convert KernelRidge")
    assert "onnx_max_abs_diff" not in tags
    uri = f"models:/{MODEL}/1"
    assert not (Path(mlflow.artifacts.download_artifacts(uri)) / "onnx").exists()
    served = load_model(resolve_model_uri(uri, load_env()))
    assert served.runtime == "skops"
    test = _test_split()
    np.testing.assert_allclose(
        served.predict(test.to_numpy()), kernel_ridge.predict(test), rtol=0, atol=1e-9
    )


@pytest.mark.usefixtures("workspace")
def test_a_twin_beyond_the_tolerance_is_not_attached(monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = load_parameters()
    # No tolerance at all: the double-precision twin of Ridge is ~1e-14 off, so it is refused.
    strict = shipped.model_copy(
        update={"registration": shipped.registration.model_copy(update={"onnx_tolerance": 0.0})}
    )
    monkeypatch.setattr(register_model, "load_parameters", lambda: strict)
    _run_pipeline()
    tags = _version_tags()
    assert tags["onnx_twin"].startswith("none: max abs diff")
    assert "exceeds the tolerance 0" in tags["onnx_twin"]
    assert float(tags["onnx_max_abs_diff"]) > 0
    uri = f"models:/{MODEL}/1"
    assert not (Path(mlflow.artifacts.download_artifacts(uri)) / "onnx").exists()
    assert load_model(resolve_model_uri(uri, load_env())).runtime == "skops"


@pytest.mark.usefixtures("workspace")
def test_a_twin_the_store_cannot_keep_leaves_the_version_as_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: object) -> None:
        raise MlflowException("this store keeps no logged-model artifacts")

    monkeypatch.setattr(register_model, "attach_twin", refuse)
    _run_pipeline()
    tags = _version_tags()
    assert tags["onnx_twin"] == (
        "none: the twin could not be stored: this store keeps no logged-model artifacts"
    )
    assert load_model(resolve_model_uri(f"models:/{MODEL}/1", load_env())).runtime == "skops"
