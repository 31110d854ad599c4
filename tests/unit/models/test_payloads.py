"""Parsing of scoring bodies: formats, checks, messages, and a property-based fuzz."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_service.errors import ScoringInputError
from ml_service.models.payloads import (
    SMALL_BATCH_VALUES,
    decode_json,
    json_type,
    matrix_from_columns,
    matrix_from_rows,
    rows_from_azure_body,
    rows_from_mlflow_body,
)

FEATURES = ("A", "B", "C")


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (None, "null"),
        (True, "a boolean"),
        ("x", "a string"),
        ({}, "an object"),
        ([], "an array"),
        (1.5, "a number"),
    ],
)
def test_json_type_names(value, name):
    assert json_type(value) == name


def test_rows_become_a_float_matrix():
    matrix = matrix_from_rows([[1, 2.5, -3], [0, 0, 1e100]], FEATURES, field="data", max_rows=10)
    assert matrix.dtype == np.float64
    assert matrix.tolist() == [[1.0, 2.5, -3.0], [0.0, 0.0, 1e100]]


def test_split_columns_are_reordered_to_the_model_order():
    body = {"dataframe_split": {"columns": ["C", "A", "B"], "data": [[3, 1, 2]]}}
    assert rows_from_mlflow_body(body, FEATURES, max_rows=10).tolist() == [[1.0, 2.0, 3.0]]


def test_split_without_columns_takes_the_model_order():
    body = {"dataframe_split": {"data": [[1, 2, 3]]}}
    assert rows_from_mlflow_body(body, FEATURES, max_rows=10).tolist() == [[1.0, 2.0, 3.0]]


def test_columns_become_rows():
    matrix = matrix_from_columns(
        {"B": [2, 5], "A": [1, 4], "C": [3, 6]}, FEATURES, field="inputs", max_rows=10
    )
    assert matrix.tolist() == [[1, 2, 3], [4, 5, 6]]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"data": [[1, 2, 3]] * 4}, "at most 3"),
        ({"data": [[1, 2]]}, "has 2 values; the model takes exactly 3 (A, B, C)"),
        ({"data": [[1, 2, "3"]]}, "row 0, feature C of `data`: expected a number, got a string"),
        ({"data": [[1, 2, 3], [1, False, 3]]}, "row 1, feature B"),
        ({"data": [[1, 2, 1e308 * 10]]}, "out of range"),
        ({"data": [[1, 2, -1e101]]}, "row 0, feature C of `data`: the number is out of range"),
        ({"data": [[1, 2, 10**400]]}, "too large for a float"),
    ],
)
def test_row_problems_are_located(body, message):
    with pytest.raises(ScoringInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        rows_from_azure_body(body, FEATURES, max_rows=3)


def test_too_many_rows_is_a_bad_request():
    with pytest.raises(ScoringInputError) as caught:
        rows_from_azure_body({"data": [[1, 2, 3]] * 4}, FEATURES, max_rows=3)
    assert caught.value.status_code == 400


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"dataframe_split": {"columns": ["A", "A", "B"], "data": [[1, 2, 3]]}},
            "missing features C",
        ),
        ({"dataframe_split": {"columns": "ABC", "data": [[1, 2, 3]]}}, "list of feature names"),
        ({"dataframe_records": {"A": 1}}, "list of objects"),
        ({"dataframe_records": [{"A": 1, "B": 2, "C": 3}] * 4}, "at most 3"),
        ({"inputs": {"A": [1], "B": [2], "C": 3}}, "`inputs.C` must be a list"),
        ({"inputs": {"A": [1], "B": [2]}}, "missing features C"),
        ([], "JSON object"),
    ],
)
def test_mlflow_body_problems(body, message):
    with pytest.raises(ScoringInputError, match=message):
        rows_from_mlflow_body(body, FEATURES, max_rows=3)


def test_duplicate_feature_names_are_reported():
    with pytest.raises(ScoringInputError, match="more than once"):
        rows_from_mlflow_body(
            {"dataframe_split": {"columns": ["A", "B", "C", "C"], "data": [[1, 2, 3, 3]]}},
            FEATURES,
            max_rows=3,
        )


def test_decode_json_refuses_nan_and_reports_position():
    with pytest.raises(ScoringInputError, match=r"line 1, column \d+"):
        decode_json(b'{"data": [[NaN]]}')


finite = st.floats(min_value=-1e100, max_value=1e100)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(finite | st.integers(-(2**63), 2**63 - 1), min_size=3, max_size=3),
        min_size=1,
        max_size=20,
    )
)
def test_any_valid_matrix_round_trips(rows):
    body = json.dumps({"data": rows}).encode()
    matrix = rows_from_azure_body(decode_json(body), FEATURES, max_rows=20)
    assert matrix.shape == (len(rows), 3)
    assert np.array_equal(matrix, np.array(rows, dtype=np.float64))


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    json_values
    | st.fixed_dictionaries({"data": json_values})
    | st.fixed_dictionaries({"inputs": json_values})
)
def test_arbitrary_json_is_accepted_or_refused_cleanly(payload):
    """Whatever the JSON, parsing yields a finite matrix or a ScoringInputError, nothing else."""
    for parse in (rows_from_azure_body, rows_from_mlflow_body):
        try:
            matrix = parse(payload, FEATURES, max_rows=5)
        except ScoringInputError:
            continue
        assert matrix.shape[1] == 3 and np.isfinite(matrix).all()


@pytest.mark.parametrize("rows", [1, SMALL_BATCH_VALUES // 3 + 5])  # checked in Python, in numpy
@pytest.mark.parametrize("bad", [1e100 * 1.0000001, -1e101, 1e308 * 10])
def test_out_of_range_is_located_in_small_and_large_batches(rows, bad):
    data = [[1.0, 2.0, 1e100]] * rows
    assert rows_from_azure_body({"data": data}, FEATURES, max_rows=100).shape == (rows, 3)
    data = [*data[:-1], [1.0, bad, -1e100]]
    match = f"row {rows - 1}, feature B of `data`: the number is out of range"
    with pytest.raises(ScoringInputError, match=match):
        rows_from_azure_body({"data": data}, FEATURES, max_rows=100)
