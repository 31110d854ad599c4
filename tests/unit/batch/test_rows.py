"""Reject detection: a row with a missing, non-numeric or non-finite feature is rejected, why said."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from ml_service.batch.rows import feature_values, score_rows

FEATURES = ("A", "B")
WEIGHTS = np.array([2.0, 3.0])


def linear(matrix: np.ndarray) -> np.ndarray:
    return matrix @ WEIGHTS + 1.0


def batch(a: list[object], b: list[object], a_type=None, b_type=None) -> pa.RecordBatch:
    return pa.record_batch(
        {"A": pa.array(a, type=a_type), "B": pa.array(b, type=b_type), "other": list(range(len(a)))}
    )


def test_clean_text_and_numbers_score_like_the_model() -> None:
    chunk = score_rows(batch(["1", "2.5", "-1e3"], [0.5, 1, 2]), FEATURES, linear)
    expected = linear(np.array([[1, 0.5], [2.5, 1], [-1e3, 2]]))
    np.testing.assert_array_equal(chunk.scores, expected)
    assert chunk.rejected.tolist() == [] and chunk.reasons == []
    np.testing.assert_array_equal(chunk.columns[0], [1, 2.5, -1e3])


@pytest.mark.parametrize(
    ("a", "b", "reason"),
    [
        ("", "1", "A: missing value"),
        (None, "1", "A: missing value"),
        ("   ", "1", "A: missing value"),
        ("abc", "1", "A: not a number ('abc')"),
        ("1_000", "1", "A: not a number ('1_000')"),
        ("x" * 40, "1", "A: not a number ('" + "x" * 20 + "…')"),
        ("inf", "1", "A: not a finite number (inf)"),
        ("nan", "1", "A: not a finite number (nan)"),
        ("-Infinity", "1", "A: not a finite number (-inf)"),
        ("1e200", "1", "A: 1e+200 is out of range"),
        ("1", "", "B: missing value"),
        ("oops", "", "A: not a number ('oops')"),  # the first bad feature is the reason
    ],
)
def test_a_bad_cell_rejects_its_row_only_with_the_reason(a: str, b: str, reason: str) -> None:
    chunk = score_rows(
        batch(["1", a, "3"], ["1", b, "2"], pa.string(), pa.string()), FEATURES, linear
    )
    assert chunk.rejected.tolist() == [1]
    assert len(chunk.reasons) == 1 and chunk.reasons[0].startswith(reason)
    np.testing.assert_array_equal(chunk.scores, linear(np.array([[1.0, 1.0], [3.0, 2.0]])))
    np.testing.assert_array_equal(chunk.columns[0], [1, 3])


def test_typed_columns_reject_nulls_and_non_finite_values() -> None:
    chunk = score_rows(
        batch([1.0, None, np.inf, 4.0], [1, 2, 3, None], pa.float64(), pa.int64()), FEATURES, linear
    )
    assert chunk.rejected.tolist() == [1, 2, 3]
    assert chunk.reasons == ["A: missing value", "A: not a finite number (inf)", "B: missing value"]
    assert chunk.kept == 1


def test_a_prediction_that_overflows_rejects_the_row() -> None:
    chunk = score_rows(batch([1e99, 1.0], [1e99, 1.0]), FEATURES, lambda m: m @ WEIGHTS * 1e300)
    assert chunk.rejected.tolist() == [0]
    assert "prediction is not a finite number" in chunk.reasons[0]


def test_features_are_found_by_name_whatever_the_column_order() -> None:
    swapped = pa.record_batch({"B": [10.0], "A": [1.0]})
    chunk = score_rows(swapped, FEATURES, linear)
    assert chunk.scores.tolist() == [1.0 + 2.0 * 1 + 3.0 * 10]


def test_an_all_null_column_is_all_missing() -> None:
    values, problems = feature_values(pa.array([None, None]), "A")
    assert problems == {0: "A: missing value", 1: "A: missing value"}
    assert np.isnan(values).all()
