"""Scoring: the init()/run() contract used by the scoring service."""
