"""Peer (b): the same tracked work done the naive way, with MLflow directly.

Logs parameters, the dataset, metrics and the model (signature and input
example, requirements inferred as MLflow does by default), registers it and
sets the champion alias. Usage: baseline_mlflow.py DATA_CSV WORKSPACE_DIR
"""

import sys
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split

data, workspace = sys.argv[1], Path(sys.argv[2])
mlflow.set_tracking_uri(f"sqlite:///{workspace / 'mlflow.db'}")
if mlflow.get_experiment_by_name("naive") is None:
    mlflow.create_experiment("naive", artifact_location=(workspace / "artifacts").as_uri())
mlflow.set_experiment("naive")

frame = pd.read_csv(data)
X_train, X_test, y_train, y_test = train_test_split(
    frame.drop(columns=["Y"]), frame["Y"], test_size=0.2, random_state=0
)
with mlflow.start_run():
    mlflow.log_params({"alpha": 0.4, "test_size": 0.2, "random_state": 0})
    mlflow.log_input(mlflow.data.from_pandas(frame, source=data, targets="Y"), context="training")
    model = Ridge(alpha=0.4).fit(X_train, y_train)
    predictions = model.predict(X_test)
    mse = mean_squared_error(y_test, predictions)
    mlflow.log_metrics(
        {
            "mse": mse,
            "rmse": mse**0.5,
            "mae": mean_absolute_error(y_test, predictions),
            "r2": r2_score(y_test, predictions),
        }
    )
    info = mlflow.sklearn.log_model(
        model,
        name="model",
        signature=infer_signature(X_train, model.predict(X_train)),
        input_example=X_train.head(2),
        registered_model_name="naive_model",
    )
client = mlflow.MlflowClient()
client.set_registered_model_alias("naive_model", "champion", info.registered_model_version)
