"""data/diabetes.csv is scikit-learn's diabetes set, reproducible from code."""

from __future__ import annotations

import runpy
from pathlib import Path

from tests.conftest import DIABETES_CSV, REPO_ROOT


def test_script_reproduces_the_committed_file(tmp_path: Path) -> None:
    output = tmp_path / "diabetes.csv"
    module = runpy.run_path(str(REPO_ROOT / "data" / "make_diabetes_csv.py"))
    module["main"]([str(output)])
    assert output.read_bytes() == DIABETES_CSV.read_bytes()


def test_shape_and_columns() -> None:
    lines = DIABETES_CSV.read_text().splitlines()
    assert lines[0] == "AGE,SEX,BMI,BP,S1,S2,S3,S4,S5,S6,Y"
    assert len(lines) == 443
