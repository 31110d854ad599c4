"""The service on the ONNX path: same answers as scikit-learn, and no heavy import at all."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import numpy as np
import pytest
import requests

from ml_service.errors import ModelLoadError
from ml_service.models.load import load_model
from ml_service.models.resolve import resolve_model_uri
from ml_service.models.twin import TWIN_DIR
from ml_service.settings import load_env
from tests.conftest import REPO_ROOT, free_port
from tests.integration.serving.conftest import run_service
from tests.integration.serving.diabetes_model import (
    FEATURES,
    RegisteredModel,
    register_diabetes_model,
)

HEAVY = ("sklearn", "scipy", "pandas", "skops", "mlflow")
ROWS = np.random.default_rng(3).normal(scale=0.05, size=(50, len(FEATURES)))


@pytest.fixture(scope="module")
def twin_model(tmp_path_factory: pytest.TempPathFactory) -> RegisteredModel:
    """The diabetes Ridge registered with its ONNX twin, as the Register step does it."""
    return register_diabetes_model(tmp_path_factory.mktemp("twin-workspace"), twin=True)


@pytest.fixture(scope="module")
def sklearn_predictions(twin_model: RegisteredModel) -> np.ndarray:
    """What the model's own scikit-learn flavor predicts for ROWS."""
    import pandas as pd

    flavor = mlflow.sklearn.load_model(str(twin_model.local_dir))
    return np.asarray(flavor.predict(pd.DataFrame(ROWS, columns=list(FEATURES))))


def test_the_version_is_loaded_from_its_twin(twin_model, sklearn_predictions):
    env = load_env(mlops_workspace=twin_model.workspace)
    model = load_model(resolve_model_uri(f"models:/{twin_model.name}@champion", env))
    assert model.runtime == "onnx"
    np.testing.assert_allclose(model.predict(ROWS), sklearn_predictions, rtol=0, atol=1e-9)
    # A downloaded copy of the version carries the twin too (Azure ML's AZUREML_MODEL_DIR).
    copy = load_model(resolve_model_uri(str(twin_model.local_dir), env))
    assert copy.runtime == "onnx"


def test_a_model_without_twin_is_served_through_its_flavor(registered_model):
    env = load_env(mlops_workspace=registered_model.workspace)
    model = load_model(resolve_model_uri(f"models:/{registered_model.name}@champion", env))
    assert model.runtime == "skops"


def test_the_service_answers_what_scikit_learn_answers(twin_model, sklearn_predictions, tmp_path):
    with run_service(twin_model.workspace, mlops_datastore_uri=str(tmp_path)) as service:
        assert service.context.model.runtime == "onnx"
        score = requests.post(f"{service.url}/score", json={"data": ROWS.tolist()}, timeout=10)
        split = {"dataframe_split": {"columns": list(FEATURES), "data": ROWS.tolist()}}
        invocations = requests.post(f"{service.url}/invocations", json=split, timeout=10)
    assert score.status_code == invocations.status_code == 200
    np.testing.assert_allclose(score.json()["result"], sklearn_predictions, rtol=0, atol=1e-9)
    np.testing.assert_allclose(
        invocations.json()["predictions"], sklearn_predictions, rtol=0, atol=1e-9
    )


def test_a_twin_recorded_in_the_registry_but_missing_is_an_error(twin_model, tmp_path):
    # A copy of the workspace whose stored twin is gone: never a silent fallback.
    workspace = tmp_path / "ws"
    shutil.copytree(twin_model.workspace, workspace)
    env = load_env(mlops_workspace=workspace)
    resolved = resolve_model_uri(f"models:/{twin_model.name}@champion", env)
    assert resolved.tags["onnx_twin"] == "onnx/model.onnx"
    stored = resolved.local_dir / TWIN_DIR
    moved = tmp_path / "moved"
    shutil.move(stored, moved)
    try:
        with pytest.raises(ModelLoadError, match=r"twin's description .* is missing"):
            load_model(resolved)
    finally:
        shutil.move(moved, stored)


def _imported_modules(importtime_log: str) -> set[str]:
    return {
        match[1].strip()
        for match in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|(.*)$", importtime_log, re.M)
    }


def test_the_shipped_service_process_imports_no_heavy_module(twin_model, tmp_path):
    """`python -m ml_service.serving` as shipped, one request scored: -X importtime lists it all."""
    port = free_port()
    log = tmp_path / "service.log"
    env = {
        "PATH": str(Path(sys.executable).parent),
        "PYTHONPATH": str(REPO_ROOT),
        "MLOPS_WORKSPACE": str(twin_model.workspace),
        "MLOPS_DATASTORE_URI": str(tmp_path / "datastore"),
    }
    command = [sys.executable, "-X", "importtime", "-m", "ml_service.serving"]
    with log.open("w") as output:
        process = subprocess.Popen(
            [*command, "--port", str(port)], env=env, stdout=output, stderr=output
        )
        try:
            answer = None
            for _ in range(600):
                if process.poll() is not None:
                    break
                try:
                    answer = requests.post(
                        f"http://127.0.0.1:{port}/score",
                        json={"data": ROWS[:2].tolist()},
                        timeout=5,
                    )
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
        finally:
            process.terminate()
            process.wait(60)
    text = log.read_text()
    assert answer is not None and answer.status_code == 200, text[-2000:]
    modules = _imported_modules(text)
    assert "onnxruntime" in modules
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == []
    started = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert any("model loaded" in record.get("message", "") for record in started)
