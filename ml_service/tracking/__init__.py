"""The MLflow tracking store: start-up, the code version runs record, and the MLflow UI."""
