"""Request bodies → feature matrices: Azure ML's `{"data": ...}` and MLflow's formats.

Pure functions, no I/O. Every rejection raises a ScoringInputError whose message
says what is wrong and where (row, feature), without repeating the values sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from ml_service.errors import ScoringInputError

MLFLOW_FORMATS = ("dataframe_split", "dataframe_records", "inputs", "instances")

_NUMBER_TYPES = frozenset({int, float})
SMALL_BATCH_VALUES = 64
"""Up to this many values, per-value checks run in Python: numpy's overhead per call is
larger than the work on a one-row request, and a request is checked with several calls."""
MAX_ABS_VALUE = 1e100
"""Largest magnitude accepted for a feature value: no real feature comes near it, and values
close to float's limit (1.8e308) overflow a linear model's prediction to inf or NaN."""


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return "a number"


def _count(names: Sequence[object], what: str) -> str:
    # Counted, never named: names come from the caller and are not echoed back.
    return f"{len(names)} {what}{'s' if len(names) != 1 else ''}"


def decode_json(body: bytes) -> Any:
    """Parse a request body as strict JSON (RFC 8259: no NaN, no Infinity).

    Raises:
        ScoringInputError: the body is empty or not valid JSON; the message gives the position.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as err:
        if not body.strip():
            raise ScoringInputError("the request body is empty; send a JSON object") from None
        raise ScoringInputError(
            f"the request body is not valid JSON (line {err.lineno}, column {err.colno}); "
            "NaN and Infinity are not JSON"
        ) from None


def matrix_from_rows(
    rows: object, features: Sequence[str], *, field: str, max_rows: int
) -> np.ndarray:
    """Check a list of rows of numbers and turn it into a float64 matrix.

    Args:
        rows: the decoded JSON value that should hold the rows.
        features: the model's feature names, in the order the model expects.
        field: where the rows sit in the body, for messages (e.g. `data`).
        max_rows: the most rows accepted.

    Returns:
        A C-contiguous float64 array of shape (rows, features).

    Raises:
        ScoringInputError: not a list of equal-length lists of finite numbers, or more rows
            than `max_rows`.
    """
    n_features = len(features)
    if not isinstance(rows, list):
        raise ScoringInputError(
            f"`{field}` must be a list of rows, each a list of {n_features} numbers "
            f"({', '.join(features)}); got {json_type(rows)}"
        )
    if not rows:
        raise ScoringInputError(f"`{field}` has no rows")
    if len(rows) > max_rows:
        raise ScoringInputError(
            f"`{field}` has {len(rows)} rows; at most {max_rows} are accepted per request"
        )
    for i, row in enumerate(rows):
        if type(row) is not list:
            raise ScoringInputError(
                f"row {i} of `{field}` must be a list of {n_features} numbers, got {json_type(row)}"
            )
        if len(row) != n_features:
            raise ScoringInputError(
                f"row {i} of `{field}` has {len(row)} values; the model takes exactly "
                f"{n_features} ({', '.join(features)})"
            )
    # One pass over the value types is much cheaper than checking each value in Python
    # with isinstance; bool is excluded because type(True) is bool, not int.
    if not {type(value) for row in rows for value in row} <= _NUMBER_TYPES:
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                if type(value) not in _NUMBER_TYPES:
                    raise ScoringInputError(
                        f"row {i}, feature {features[j]} of `{field}`: expected a number, "
                        f"got {json_type(value)}"
                    )
    try:
        matrix = np.array(rows, dtype=np.float64)
    except OverflowError:
        raise ScoringInputError(f"`{field}` holds a number too large for a float") from None
    if matrix.size <= SMALL_BATCH_VALUES:
        # A few values: checked in Python, a third of numpy's cost per call on them. They
        # came from JSON, so none is NaN, for which min and max would not answer.
        values = matrix.ravel().tolist()
        all_in_range = min(values) >= -MAX_ABS_VALUE and max(values) <= MAX_ABS_VALUE
    else:
        all_in_range = bool((np.abs(matrix) <= MAX_ABS_VALUE).all())
    if not all_in_range:
        in_range = np.abs(matrix) <= MAX_ABS_VALUE
        i, j = np.argwhere(~in_range)[0]
        raise ScoringInputError(
            f"row {i}, feature {features[j]} of `{field}`: the number is out of range "
            f"(at most {MAX_ABS_VALUE:g} in magnitude)"
        )
    return matrix


def matrix_from_records(
    records: object, features: Sequence[str], *, field: str, max_rows: int
) -> np.ndarray:
    """Turn a list of `{feature: number}` objects into a matrix in the model's feature order.

    Raises:
        ScoringInputError: not a list of objects with exactly the model's features.
    """
    if not isinstance(records, list):
        raise ScoringInputError(
            f"`{field}` must be a list of objects keyed by feature name; got {json_type(records)}"
        )
    if len(records) > max_rows:
        raise ScoringInputError(
            f"`{field}` has {len(records)} rows; at most {max_rows} are accepted per request"
        )
    expected = set(features)
    rows = []
    for i, record in enumerate(records):
        if type(record) is not dict:
            raise ScoringInputError(
                f"record {i} of `{field}` must be an object keyed by feature name, "
                f"got {json_type(record)}"
            )
        if record.keys() != expected:
            raise ScoringInputError(
                f"record {i} of `{field}`: {_column_mismatch(record, features)}"
            )
        rows.append([record[name] for name in features])
    return matrix_from_rows(rows, features, field=field, max_rows=max_rows)


def matrix_from_columns(
    columns: dict[str, Any], features: Sequence[str], *, field: str, max_rows: int
) -> np.ndarray:
    """Turn a `{feature: [numbers]}` object into a matrix in the model's feature order.

    Raises:
        ScoringInputError: the keys are not the model's features or the columns differ in length.
    """
    if columns.keys() != set(features):
        raise ScoringInputError(f"`{field}`: {_column_mismatch(columns, features)}")
    lengths = set()
    for name in features:
        column = columns[name]
        if not isinstance(column, list):
            raise ScoringInputError(
                f"`{field}.{name}` must be a list of numbers, got {json_type(column)}"
            )
        lengths.add(len(column))
    if len(lengths) != 1:
        raise ScoringInputError(f"the columns of `{field}` have different lengths")
    rows = [list(values) for values in zip(*(columns[name] for name in features), strict=True)]
    return matrix_from_rows(rows, features, field=field, max_rows=max_rows)


def _column_mismatch(given: dict[str, Any] | Sequence[str], features: Sequence[str]) -> str:
    names = list(given)
    missing = [name for name in features if name not in names]
    unknown = [name for name in names if name not in features]
    problems = []
    if missing:
        problems.append(f"missing features {', '.join(missing)}")
    if unknown:
        problems.append(_count(unknown, "unknown feature"))
    if not problems:
        problems.append("a feature is given more than once")
    return "; ".join(problems) + f" (the model takes {', '.join(features)})"


def _expect_object(payload: object, keys: str) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise ScoringInputError(
            f"the body must be a JSON object with {keys}; got {json_type(payload)}"
        )
    return payload


def rows_from_azure_body(payload: object, features: Sequence[str], *, max_rows: int) -> np.ndarray:
    """The matrix in Azure ML's scoring body `{"data": [[numbers], ...]}`.

    Raises:
        ScoringInputError: the body is not `{"data": [...]}` with valid rows.
    """
    body = _expect_object(payload, 'the key "data"')
    if "data" not in body:
        raise ScoringInputError('the body must have the key "data": a list of rows')
    if len(body) != 1:
        unknown = [key for key in body if key != "data"]
        raise ScoringInputError(f'{_count(unknown, "unknown key")}; only "data" is accepted')
    return matrix_from_rows(body["data"], features, field="data", max_rows=max_rows)


def rows_from_mlflow_body(payload: object, features: Sequence[str], *, max_rows: int) -> np.ndarray:
    """The matrix in an MLflow scoring-server body (`dataframe_split`, `dataframe_records`, ...).

    Raises:
        ScoringInputError: not exactly one known format, or invalid rows; `params` is refused
            because the served models take none.
    """
    keys = " or ".join(f'"{name}"' for name in MLFLOW_FORMATS)
    body = _expect_object(payload, f"one of the keys {keys}")
    if "params" in body:
        raise ScoringInputError("`params` is not supported: this model takes no parameters")
    formats = [key for key in body if key in MLFLOW_FORMATS]
    unknown = [key for key in body if key not in MLFLOW_FORMATS]
    if unknown:
        raise ScoringInputError(f"{_count(unknown, 'unknown key')}; use one of {keys}")
    if len(formats) != 1:
        raise ScoringInputError(f"the body must have exactly one of the keys {keys}")
    field = formats[0]
    value = body[field]
    if field == "dataframe_split":
        return _matrix_from_split(value, features, max_rows=max_rows)
    if field == "dataframe_records":
        return matrix_from_records(value, features, field=field, max_rows=max_rows)
    if isinstance(value, dict):
        return matrix_from_columns(value, features, field=field, max_rows=max_rows)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return matrix_from_records(value, features, field=field, max_rows=max_rows)
    return matrix_from_rows(value, features, field=field, max_rows=max_rows)


def _matrix_from_split(value: object, features: Sequence[str], *, max_rows: int) -> np.ndarray:
    field = "dataframe_split"
    if not isinstance(value, dict) or "data" not in value:
        raise ScoringInputError(f'`{field}` must be an object with "columns" and "data"')
    unknown = [key for key in value if key not in ("columns", "data", "index")]
    if unknown:
        raise ScoringInputError(
            f'{_count(unknown, "unknown key")} in `{field}`; use "columns", "data", "index"'
        )
    columns = value.get("columns", list(features))
    if not isinstance(columns, list) or not all(isinstance(name, str) for name in columns):
        raise ScoringInputError(f"`{field}.columns` must be a list of feature names")
    if len(columns) != len(features) or set(columns) != set(features):
        raise ScoringInputError(f"`{field}.columns`: {_column_mismatch(columns, features)}")
    matrix = matrix_from_rows(value["data"], columns, field=f"{field}.data", max_rows=max_rows)
    if list(columns) == list(features):
        return matrix
    order = [columns.index(name) for name in features]
    return np.ascontiguousarray(matrix[:, order])
