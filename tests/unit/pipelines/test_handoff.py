"""Models handed between in-process steps: the kept object while the folder is unchanged,
the folder's own model once it is written again."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import mlflow.sklearn
import numpy as np
import pytest
from sklearn.linear_model import Ridge

from ml_service.pipelines import handoff


@pytest.fixture(autouse=True)
def empty() -> Iterator[None]:
    handoff.clear()
    yield
    handoff.clear()


def _saved(folder: Path, alpha: float) -> Ridge:
    model = Ridge(alpha=alpha).fit(np.arange(20.0).reshape(10, 2), np.arange(10.0))
    mlflow.sklearn.save_model(model, str(folder), serialization_format="pickle")
    return model


def test_a_remembered_model_is_handed_on_without_loading(tmp_path: Path) -> None:
    model = _saved(tmp_path / "model", 0.5)
    handoff.remember(tmp_path / "model", model)
    assert handoff.sklearn_model(tmp_path / "model") is model


def test_a_folder_written_again_is_loaded_again(tmp_path: Path) -> None:
    kept = _saved(tmp_path / "model", 0.5)
    handoff.remember(tmp_path / "model", kept)
    mlmodel = tmp_path / "model" / "MLmodel"
    stat = mlmodel.stat()
    # Another model in the same place (its MLmodel rewritten).
    os.utime(mlmodel, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    loaded = handoff.sklearn_model(tmp_path / "model")
    assert loaded is not kept and loaded.alpha == 0.5


def test_an_unknown_folder_is_loaded_once(tmp_path: Path) -> None:
    _saved(tmp_path / "model", 0.7)
    first = handoff.sklearn_model(tmp_path / "model")
    assert first.alpha == 0.7
    assert handoff.sklearn_model(tmp_path / "model") is first
    handoff.clear()
    assert handoff.sklearn_model(tmp_path / "model") is not first
