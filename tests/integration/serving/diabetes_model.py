"""A diabetes Ridge model registered the way the pipeline registers it (tests, benchmarks)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

MODEL_NAME = "diabetes_regression_model"
FEATURES = ("AGE", "SEX", "BMI", "BP", "S1", "S2", "S3", "S4", "S5", "S6")


@dataclass(frozen=True)
class RegisteredModel:
    """A workspace holding a registered model: its folder, name, version and local files."""

    workspace: Path
    name: str
    version: str
    local_dir: Path

    @property
    def tracking_uri(self) -> str:
        """The workspace's SQLite tracking and registry store."""
        return f"sqlite:///{self.workspace / 'mlflow.db'}"


def register_diabetes_model(
    workspace: Path, aliases: tuple[str, ...] = ("champion",), twin: bool = False
):
    """Train Ridge(alpha=0.4) on scikit-learn's diabetes data and register it with MLflow.

    Logged like the pipeline does: skops, signature of the 10 named features,
    2-row input example, pinned requirements; registered as MODEL_NAME with `aliases`.
    With `twin`, the version gets its ONNX twin and tags as the Register step gives them.
    """
    import mlflow
    from mlflow.models import infer_signature
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    workspace.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{workspace / 'mlflow.db'}"
    # set_tracking_uri also sets MLFLOW_TRACKING_URI; put back exactly what was there.
    previous = os.environ.get("MLFLOW_TRACKING_URI"), os.environ.get("MLFLOW_REGISTRY_URI")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        X, y = load_diabetes(return_X_y=True, as_frame=True)
        X.columns = [name.upper() for name in X.columns]
        ridge = Ridge(alpha=0.4).fit(X, y)
        client = mlflow.MlflowClient()
        experiment_id = client.create_experiment(
            "scoring-tests", artifact_location=(workspace / "artifacts").as_uri()
        )
        with mlflow.start_run(experiment_id=experiment_id):
            info = mlflow.sklearn.log_model(
                ridge,
                name="model",
                serialization_format="skops",
                signature=infer_signature(X, ridge.predict(X)),
                input_example=X.head(2),
                pip_requirements=["scikit-learn==1.9.1", "skops==0.16.0"],
                registered_model_name=MODEL_NAME,
            )
        version = str(info.registered_model_version)
        if twin:
            from ml_service.models.twin import make_twin
            from ml_service.registry.models import attach_twin, twin_tags

            check = make_twin(ridge, X, tolerance=1e-9)
            attach_twin(client, info.model_uri, check)
            for key, value in twin_tags(check).items():
                client.set_model_version_tag(MODEL_NAME, version, key, value)
        for alias in aliases:
            client.set_registered_model_alias(MODEL_NAME, alias, version)
        local_dir = Path(mlflow.artifacts.download_artifacts(f"models:/{MODEL_NAME}/{version}"))
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])
        if previous[1] is None:
            os.environ.pop("MLFLOW_REGISTRY_URI", None)
    return RegisteredModel(
        workspace=workspace, name=MODEL_NAME, version=version, local_dir=local_dir
    )
