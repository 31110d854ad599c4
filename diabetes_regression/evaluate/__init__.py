"""The "Evaluate" step: challenger against the current champion.

Before the step imports MLflow: skops, which loads models, is then cheap to import
(`ml_service.startup.import_ahead_of_mlflow`).
"""

from ml_service.startup import import_ahead_of_mlflow

import_ahead_of_mlflow()
