"""Training: pure functions (train.py) and the "Train model" step (train_aml.py).

Before the step imports MLflow: skops, which saves the model, is then cheap to
import (`ml_service.startup.import_ahead_of_mlflow`).
"""

from ml_service.startup import import_ahead_of_mlflow

import_ahead_of_mlflow()
