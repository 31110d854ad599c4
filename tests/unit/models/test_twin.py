"""The ONNX twin: conversion, the check against the model, and loading it safely."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestRegressor
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ml_service.errors import ModelLoadError
from ml_service.models.twin import (
    TWIN_DIR,
    TWIN_FILE,
    TWIN_META,
    TWIN_PATH,
    load_twin,
    make_twin,
    staged_twin,
    write_twin,
)
from ml_service.registry.models import twin_tags

FEATURES = ("A", "B", "C", "D")
rng = np.random.default_rng(1)
X = pd.DataFrame(rng.normal(size=(60, 4)) * 10 + 50, columns=list(FEATURES))
y = X.to_numpy() @ np.array([1.0, -2.0, 0.5, 3.0]) + 7 + rng.normal(size=60)


@pytest.mark.parametrize(
    "estimator",
    [Ridge(alpha=0.4), make_pipeline(StandardScaler(), Ridge())],
    ids=["ridge", "pipeline"],
)
def test_twin_in_double_precision_predicts_what_the_model_predicts(tmp_path: Path, estimator):
    estimator.fit(X, y)
    check = make_twin(estimator, X, tolerance=1e-9)
    assert check.attached and check.input_type == "double"
    assert check.max_abs_diff is not None and check.max_abs_diff <= 1e-9
    write_twin(check, tmp_path)
    predict = load_twin(tmp_path, FEATURES)
    predictions = predict(X.to_numpy())
    assert predictions.shape == (60,) and predictions.dtype == np.float64
    np.testing.assert_allclose(predictions, estimator.predict(X), rtol=0, atol=1e-9)
    assert predict(X.to_numpy()[:1]).shape == (1,)
    assert twin_tags(check) == {
        "onnx_twin": TWIN_PATH,
        "onnx_max_abs_diff": f"{check.max_abs_diff:.3g}",
    }


def test_a_model_skl2onnx_cannot_convert_gets_no_twin():
    check = make_twin(KernelRidge().fit(X, y), X, tolerance=1e-6)
    assert not check.attached and check.input_type is None and check.max_abs_diff is None
    assert "skl2onnx cannot convert KernelRidge" in check.reason
    assert twin_tags(check)["onnx_twin"].startswith("none: skl2onnx cannot convert KernelRidge")
    with pytest.raises(ValueError, match="no twin to write"):
        write_twin(check, Path("unused"))


def test_a_twin_beyond_the_tolerance_is_not_attached():
    # Tree ensembles convert in single precision only: their twin differs by ~1e-5.
    forest = RandomForestRegressor(n_estimators=3, random_state=0).fit(X, y)
    check = make_twin(forest, X, tolerance=1e-9)
    assert not check.attached and check.input_type == "float"
    assert check.max_abs_diff is not None and check.max_abs_diff > 1e-9
    assert "exceeds the tolerance" in check.reason
    assert twin_tags(check)["onnx_max_abs_diff"] == f"{check.max_abs_diff:.3g}"
    loose = make_twin(forest, X, tolerance=1.0)
    assert loose.attached and loose.input_type == "float"


@pytest.fixture
def twin_dir(tmp_path: Path) -> Path:
    with staged_twin(make_twin(Ridge().fit(X, y), X, tolerance=1e-9)) as staged:
        target = tmp_path / "model"
        target.mkdir()
        (staged / TWIN_DIR).rename(target / TWIN_DIR)
    return target


def test_a_corrupt_twin_is_refused(twin_dir: Path):
    path = twin_dir / TWIN_DIR / TWIN_FILE
    data = bytearray(path.read_bytes())
    data[-20] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="does not match the SHA-256"):
        load_twin(twin_dir, FEATURES)


def test_a_missing_twin_file_is_refused(twin_dir: Path):
    (twin_dir / TWIN_DIR / TWIN_FILE).unlink()
    with pytest.raises(ModelLoadError, match="missing or unreadable"):
        load_twin(twin_dir, FEATURES)
    (twin_dir / TWIN_DIR / TWIN_META).unlink()
    with pytest.raises(ModelLoadError, match=r"description .* is missing"):
        load_twin(twin_dir, FEATURES)


def test_a_twin_onnx_runtime_cannot_read_is_refused(twin_dir: Path):
    garbage = b"not an onnx model"
    (twin_dir / TWIN_DIR / TWIN_FILE).write_bytes(garbage)
    meta_path = twin_dir / TWIN_DIR / TWIN_META
    meta = json.loads(meta_path.read_text())
    meta["sha256"] = hashlib.sha256(garbage).hexdigest()
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="ONNX Runtime cannot load"):
        load_twin(twin_dir, FEATURES)


def test_a_twin_for_other_features_is_refused(twin_dir: Path):
    with pytest.raises(ModelLoadError, match="takes features"):
        load_twin(twin_dir, ("A", "B", "D", "C"))
