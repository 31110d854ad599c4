"""Scoring of the diabetes model (Azure ML's init()/run() scoring-script contract)."""
