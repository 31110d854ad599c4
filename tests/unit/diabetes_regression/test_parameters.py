"""parameters.json: the shipped file loads, and a bad one is an error naming the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diabetes_regression.parameters import PARAMETERS_PATH, load_parameters
from ml_service.errors import SettingsError


def test_shipped_parameters_load() -> None:
    parameters = load_parameters()
    assert parameters.training.alpha == 0.4
    assert parameters.training.test_size == 0.2
    assert parameters.training.random_state == 0
    assert parameters.evaluation.metric == "mse"
    assert parameters.evaluation.direction == "minimize"
    assert parameters.data.columns[-1] == "Y"
    assert len(parameters.data.features) == 10


def _write(tmp_path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    raw = json.loads(PARAMETERS_PATH.read_text())
    change(raw)
    path = tmp_path / "parameters.json"
    path.write_text(json.dumps(raw))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p["training"].update(alhpa=1), r"training\.alhpa: Extra inputs"),
        (lambda p: p["training"].update(test_size=1.5), r"training\.test_size"),
        (lambda p: p["evaluation"].update(metric="accuracy"), r"evaluation\.metric"),
        (lambda p: p["registration"].update(tags=["mse", "f1"]), r"registration\.tags\.1"),
        (lambda p: p.pop("training"), r"training: Field required"),
        (lambda p: p["data"].update(target="BMI"), r"data: .*also listed as a feature"),
        (lambda p: p["data"].update(target_range=[5, 1]), r"data: .*target_range .* is empty"),
    ],
)
def test_bad_parameters_name_the_key(tmp_path: Path, change, message: str) -> None:  # type: ignore[no-untyped-def]
    path = _write(tmp_path, change)
    with pytest.raises(SettingsError, match=message) as err:
        load_parameters(path)
    assert str(path) in str(err.value)


def test_invalid_json_and_missing_file(tmp_path: Path) -> None:
    broken = tmp_path / "parameters.json"
    broken.write_text("{not json")
    with pytest.raises(SettingsError, match="not valid JSON"):
        load_parameters(broken)
    with pytest.raises(SettingsError, match="cannot be read"):
        load_parameters(tmp_path / "missing.json")
