"""Monitoring: drift between training data and what the service scored; the retraining loop."""
