"""Scoring: the seed's init()/run() contract, shared with the scoring service."""
