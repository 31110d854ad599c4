"""Training: pure functions (train.py) and the "Train model" step (train_aml.py)."""
