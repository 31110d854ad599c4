"""Data checks on the shipped bad examples: each is refused with the file, column and problem."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from diabetes_regression.parameters import load_parameters
from ml_service.data.checks import (
    column_statistics,
    distribution_problems,
    read_data_file,
    validate_frame,
)
from ml_service.errors import DataValidationError
from tests.conftest import BAD_EXAMPLES, DIABETES_CSV

CHECKS = load_parameters().data


@pytest.fixture(scope="module")
def reference() -> dict[str, dict[str, float]]:
    return column_statistics(read_data_file(DIABETES_CSV))


def test_bundled_data_is_valid(reference: dict[str, dict[str, float]]) -> None:
    frame = validate_frame(read_data_file(DIABETES_CSV), CHECKS, "diabetes.csv", reference)
    assert len(frame) == 442
    assert list(frame.columns) == CHECKS.columns
    assert all(dtype == np.float64 for dtype in frame.dtypes)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("missing_column.csv", "column 'S6': column is missing"),
        ("extra_column.csv", "column 'EXTRA': unexpected column"),
        ("missing_values.csv", "column 'BMI': missing values (3 values; file lines 5, 11, 13)"),
        (
            "non_numeric_cell.csv",
            "column 'BP': non-numeric values (1 value, e.g. 'abc'; file line 7)",
        ),
        ("infinite_value.csv", "column 'S1': NaN or infinite values"),
        ("target_out_of_range.csv", "column 'Y': values outside the plausible range [0, 1000]"),
        ("too_few_rows.csv", "10 rows, at least 20 are needed"),
        (
            "shifted_distribution.csv",
            "column 'BMI': mean moved by 2.00 reference standard deviations",
        ),
        ("empty.csv", "the file is empty"),
    ],
)
def test_bad_example_is_refused_with_a_clear_message(
    name: str, expected: str, reference: dict[str, dict[str, float]]
) -> None:
    path = BAD_EXAMPLES / name
    with pytest.raises(DataValidationError) as err:
        validate_frame(read_data_file(path), CHECKS, str(path), reference, "diabetes_ds:1")
    message = str(err.value)
    assert message.startswith(str(path))
    assert expected in message
    assert "\n" not in message


def test_non_numeric_column_is_reported_once() -> None:
    path = BAD_EXAMPLES / "non_numeric_cell.csv"
    with pytest.raises(DataValidationError) as err:
        validate_frame(read_data_file(path), CHECKS, str(path))
    assert str(err.value).count("'BP'") == 1


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="no such file"):
        read_data_file(tmp_path / "missing.csv")
    text = tmp_path / "data.txt"
    text.write_text("a,b\n1,2\n")
    with pytest.raises(DataValidationError, match=r"unsupported file type '\.txt'"):
        read_data_file(text)
    binary = tmp_path / "data.parquet"
    binary.write_bytes(b"not parquet at all")
    with pytest.raises(DataValidationError, match="cannot be read as a table"):
        read_data_file(binary)


def test_parquet_is_read(tmp_path: Path, diabetes_frame: pd.DataFrame) -> None:
    path = tmp_path / "diabetes.parquet"
    diabetes_frame.to_parquet(path)
    assert read_data_file(path).equals(diabetes_frame)


def test_distribution_checks_mean_and_spread(reference: dict[str, dict[str, float]]) -> None:
    same = dict(reference)
    assert distribution_problems(same, reference, CHECKS) == []
    wide = {**reference, "S2": {**reference["S2"], "std": reference["S2"]["std"] * 4}}
    problems = distribution_problems(wide, reference, CHECKS)
    assert len(problems) == 1
    assert "column 'S2': standard deviation is 4.00× the reference's" in problems[0]
    narrow = {**reference, "Y": {**reference["Y"], "std": reference["Y"]["std"] / 4}}
    assert "column 'Y'" in distribution_problems(narrow, reference, CHECKS)[0]


def test_random_subset_passes_distribution_check(
    diabetes_frame: pd.DataFrame, reference: dict[str, dict[str, float]]
) -> None:
    subset = diabetes_frame.sample(n=60, random_state=1)
    validate_frame(subset, CHECKS, "subset", reference)


def test_column_statistics() -> None:
    stats = column_statistics(pd.DataFrame({"a": [1.0, 2.0, 3.0, None]}))
    assert stats["a"]["count"] == 3
    assert stats["a"]["missing"] == 1
    assert stats["a"]["mean"] == 2.0
    assert stats["a"]["min"] == 1.0
    assert stats["a"]["max"] == 3.0
    assert stats["a"]["p50"] == 2.0
