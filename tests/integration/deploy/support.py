"""Model versions and endpoint processes for the deployment tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODEL_NAME = "diabetes_regression_model"
MLOPS = str(Path(sys.executable).with_name("mlops"))
SAMPLE = json.dumps({"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]}).encode()


@dataclass(frozen=True)
class TrainedVersions:
    """A workspace whose registry holds: v1 (@champion), v2 (another alpha), v3 (answers NaN)."""

    workspace: Path


BROKEN_VERSION = "3"


def register_versions(workspace: Path) -> TrainedVersions:
    """Train three Ridge models on the diabetes data and register them as versions 1-3.

    Version 3 has a NaN intercept: it loads and answers, but every prediction is
    NaN, which the smoke test refuses.
    """
    import mlflow
    import numpy as np
    from mlflow.models import infer_signature
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    workspace.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{workspace / 'mlflow.db'}"
    previous = os.environ.get("MLFLOW_TRACKING_URI"), os.environ.get("MLFLOW_REGISTRY_URI")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        X, y = load_diabetes(return_X_y=True, as_frame=True)
        X.columns = [name.upper() for name in X.columns]
        client = mlflow.MlflowClient()
        experiment_id = client.create_experiment(
            "deploy-tests", artifact_location=(workspace / "artifacts").as_uri()
        )
        for alpha, broken in ((0.4, False), (2.0, False), (0.4, True)):
            model = Ridge(alpha=alpha).fit(X, y)
            if broken:
                model.intercept_ = np.float64("nan")
            with mlflow.start_run(experiment_id=experiment_id):
                mlflow.sklearn.log_model(
                    model,
                    name="model",
                    serialization_format="skops",
                    signature=infer_signature(X, Ridge(alpha=alpha).fit(X, y).predict(X)),
                    input_example=X.head(2),
                    pip_requirements=["scikit-learn", "skops"],
                    registered_model_name=MODEL_NAME,
                )
        client.set_registered_model_alias(MODEL_NAME, "champion", "1")
    finally:
        mlflow.set_tracking_uri(previous[0])  # type: ignore[arg-type]
        mlflow.set_registry_uri(previous[1])  # type: ignore[arg-type]
        for name, value in zip(
            ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"), previous, strict=True
        ):
            if value is None:
                os.environ.pop(name, None)
    return TrainedVersions(workspace)


def fresh_workspace(trained: TrainedVersions, folder: Path) -> Path:
    """A workspace of its own whose registry is a copy of the trained one (same artifacts)."""
    folder.mkdir(parents=True)
    shutil.copy(trained.workspace / "mlflow.db", folder / "mlflow.db")
    return folder


def mlops(
    *args: str, env: dict[str, str], timeout: float = 400
) -> subprocess.CompletedProcess[str]:
    """Run `mlops ARGS` in a subprocess."""
    return subprocess.run(
        [MLOPS, *args], env=env, capture_output=True, text=True, check=False, timeout=timeout
    )


def endpoint_record(workspace: Path, endpoint: str) -> dict[str, Any] | None:
    """The endpoint's process.json, if present."""
    path = workspace / "endpoints" / endpoint / "process.json"
    return json.loads(path.read_text()) if path.is_file() else None


def get_json(url: str) -> Any:
    """GET a JSON document."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def score(url: str, deployment: str | None = None) -> tuple[int, str | None, str | None]:
    """POST one row to /score: status, the deployment and the model version that answered."""
    headers = {"Content-Type": "application/json"}
    if deployment:
        headers["azureml-model-deployment"] = deployment
    request = urllib.request.Request(f"{url}/score", data=SAMPLE, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
        return (
            response.status,
            response.headers.get("azureml-model-deployment"),
            response.headers.get("x-model-version"),
        )


def pid_gone(pid: int, timeout: float = 30) -> bool:
    """Whether process `pid` has ended (waiting up to `timeout` seconds)."""
    from ml_service.deploy.process import pid_alive

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    return False
