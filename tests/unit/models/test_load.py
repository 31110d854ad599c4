"""Reading features from an MLmodel."""

from __future__ import annotations

import json

import pytest

from ml_service.errors import ModelLoadError
from ml_service.models.load import read_features


def test_read_features_from_signature():
    columns = [{"type": "double", "name": name, "required": True} for name in ("A", "B")]
    assert read_features({"signature": {"inputs": json.dumps(columns)}}, "m") == ("A", "B")
    with pytest.raises(ModelLoadError, match="empty input signature"):
        read_features({"signature": {"inputs": "[]"}}, "m")
