"""Each step module, imported on its own (`python -m ...`, Azure ML), imports scipy.special
before MLflow, so that skops' first import (to save or load a model) stays cheap."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
names = list(sys.modules)
print(json.dumps([names.index("scipy.special"), names.index("mlflow")]))
"""


@pytest.mark.parametrize(
    "module",
    [
        "diabetes_regression.training.train_aml",
        "diabetes_regression.evaluate.evaluate_model",
        "diabetes_regression.register.register_model",
    ],
)
def test_step_module_imports_scipy_special_before_mlflow(module: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, module],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    scipy_special, mlflow = (int(i) for i in completed.stdout.strip()[1:-1].split(","))
    assert scipy_special < mlflow
