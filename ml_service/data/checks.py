"""Data checks: the exact schema with pandera, then the distribution against a reference.

Everything here is pure (data frames and statistics in, a frame or an error
out) except `read_data_file`, which is the one place a data file is parsed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ml_service.errors import DataValidationError

if TYPE_CHECKING:
    # pandera (and hypothesis, which it imports) is loaded only when a frame is checked:
    # a pipeline run on an already registered, already validated version needs neither.
    import pandera.pandas as pa
    from pandera.errors import SchemaErrors

READABLE_SUFFIXES = (".csv", ".parquet")


class DataChecks(BaseModel):
    """What a training data file must look like (parameters.json, section `data`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    features: list[str] = Field(min_length=1, description="Feature columns, all numeric.")
    target: str = Field(min_length=1, description="Target column, numeric.")
    target_range: tuple[float, float] = Field(description="Plausible [min, max] of the target.")
    min_rows: int = Field(ge=2, description="Fewest rows that can be split and trained on.")
    max_mean_shift: float = Field(
        gt=0,
        description="Largest allowed change of a column's mean against the reference "
        "dataset version, in reference standard deviations.",
    )
    max_std_ratio: float = Field(
        gt=1,
        description="Largest allowed ratio between a column's standard deviation and the "
        "reference's (either way).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> DataChecks:
        if self.target in self.features:
            raise ValueError(f"target {self.target!r} is also listed as a feature")
        if len(set(self.features)) != len(self.features):
            raise ValueError("features are listed more than once")
        low, high = self.target_range
        if low >= high:
            raise ValueError(f"target_range {list(self.target_range)} is empty")
        return self

    @property
    def columns(self) -> list[str]:
        """Features then target."""
        return [*self.features, self.target]


def read_data_file_path(path: str | Path) -> Path:
    """`path` if it names a file of a readable type, else DataValidationError naming it."""
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(f"{path}: no such file")
    if path.suffix.lower() not in READABLE_SUFFIXES:
        raise DataValidationError(
            f"{path}: unsupported file type {path.suffix!r}; use .csv or .parquet"
        )
    return path


def read_data_file(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, or raise DataValidationError naming the file."""
    path = read_data_file_path(path)
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except pd.errors.EmptyDataError as err:
        raise DataValidationError(f"{path}: the file is empty") from err
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataValidationError(f"{path}: cannot be read as a table: {first_line}") from err


def _finite(series: pd.Series) -> pd.Series:
    return series.map(lambda value: math.isfinite(value))


def build_schema(checks: DataChecks) -> pa.DataFrameSchema:
    """The pandera schema: exactly these columns, numeric, finite, no missing values."""
    import pandera.pandas as pa

    finite = pa.Check(_finite, element_wise=False, name="finite", error="NaN or infinite")
    columns = {name: pa.Column(float, checks=[finite], coerce=True) for name in checks.features}
    low, high = checks.target_range
    columns[checks.target] = pa.Column(
        float,
        checks=[finite, pa.Check.in_range(low, high, name="in_range")],
        coerce=True,
    )
    return pa.DataFrameSchema(columns, strict=True, coerce=True)


_CHECK_WORDS = {
    "column_in_dataframe": "column is missing",
    "column_in_schema": "unexpected column (not a feature or the target)",
    "not_nullable": "missing values",
    "NaN or infinite": "NaN or infinite values",
}


def _describe_failures(source: str, errors: SchemaErrors, checks: DataChecks) -> str:
    cases = errors.failure_cases
    parts: list[str] = []
    non_numeric: set[str] = set()
    seen: set[tuple[str, str]] = set()
    for (column, check), group in cases.groupby(["column", "check"], sort=False, dropna=False):
        check = str(check)
        first = group["failure_case"].iloc[0]
        if check in ("column_in_dataframe", "column_in_schema"):
            parts.append(f"column {first!r}: {_CHECK_WORDS[check]}")
            continue
        if check.startswith(("coerce_dtype", "dtype")):
            words = "non-numeric values"
            non_numeric.add(str(column))
        elif str(column) in non_numeric:
            continue  # later checks on a column that is not numeric only repeat the problem
        elif check.startswith("in_range"):
            low, high = checks.target_range
            words = f"values outside the plausible range [{low:g}, {high:g}]"
        else:
            words = _CHECK_WORDS.get(check, f"fails check {check}")
        if (str(column), words) in seen:
            continue
        seen.add((str(column), words))
        count = len(group)
        detail = f"{count} value{'s' if count != 1 else ''}"
        examples = [v for v in group["failure_case"].tolist()[:3] if v is not None]
        if examples and check != "not_nullable":
            detail += f", e.g. {', '.join(repr(e) for e in examples)}"
        # +2: the header is line 1 and the index counts from 0.
        lines = [int(i) + 2 for i in group["index"].dropna().tolist()[:3]]
        if lines:
            detail += f"; file line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))}"
        parts.append(f"column {column!r}: {words} ({detail})")
    return f"{source}: " + "; ".join(parts)


def check_schema(frame: pd.DataFrame, checks: DataChecks, source: str) -> pd.DataFrame:
    """Validate and coerce `frame`; raise DataValidationError naming source, column and problem.

    Returns:
        The frame with the columns in the configured order, as float64.
    """
    from pandera.errors import SchemaErrors

    if frame.empty:
        raise DataValidationError(f"{source}: has no rows")
    try:
        valid = build_schema(checks).validate(frame, lazy=True)
    except SchemaErrors as err:
        raise DataValidationError(_describe_failures(source, err, checks)) from err
    if len(valid) < checks.min_rows:
        raise DataValidationError(
            f"{source}: {len(valid)} rows, at least {checks.min_rows} are needed to split and train"
        )
    return valid[checks.columns]


def column_statistics(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per-column count, mean, standard deviation, min, quantiles and max."""
    stats: dict[str, dict[str, float]] = {}
    for name in frame.columns:
        column = pd.to_numeric(frame[name], errors="coerce")
        quantiles = column.quantile([0.05, 0.25, 0.5, 0.75, 0.95])
        stats[str(name)] = {
            "count": float(column.count()),
            "missing": float(column.isna().sum()),
            "mean": float(column.mean()),
            "std": float(column.std()),
            "min": float(column.min()),
            "p05": float(quantiles.loc[0.05]),
            "p25": float(quantiles.loc[0.25]),
            "p50": float(quantiles.loc[0.5]),
            "p75": float(quantiles.loc[0.75]),
            "p95": float(quantiles.loc[0.95]),
            "max": float(column.max()),
        }
    return stats


def distribution_problems(
    stats: dict[str, dict[str, float]],
    reference: dict[str, dict[str, float]],
    checks: DataChecks,
) -> list[str]:
    """Columns whose mean or spread moved too far from the reference statistics."""
    problems = []
    for name in checks.columns:
        if name not in stats or name not in reference:
            continue
        ref_std = reference[name]["std"]
        if not ref_std > 0:
            continue
        shift = abs(stats[name]["mean"] - reference[name]["mean"]) / ref_std
        if shift > checks.max_mean_shift:
            problems.append(
                f"column {name!r}: mean moved by {shift:.2f} reference standard deviations "
                f"(limit {checks.max_mean_shift:g})"
            )
            continue
        ratio = stats[name]["std"] / ref_std if stats[name]["std"] > 0 else math.inf
        if max(ratio, 1 / ratio if ratio > 0 else math.inf) > checks.max_std_ratio:
            problems.append(
                f"column {name!r}: standard deviation is {ratio:.2f}× the reference's "
                f"(limit {checks.max_std_ratio:g}×)"
            )
    return problems


def validate_frame(
    frame: pd.DataFrame,
    checks: DataChecks,
    source: str,
    reference: dict[str, dict[str, float]] | None = None,
    reference_name: str = "the reference",
) -> pd.DataFrame:
    """Schema, then distribution against `reference` statistics when given.

    Raises:
        DataValidationError: with one message naming the source, the columns and the problems.
    """
    valid = check_schema(frame, checks, source)
    if reference:
        problems = distribution_problems(column_statistics(valid), reference, checks)
        if problems:
            raise DataValidationError(
                f"{source}: distribution differs from {reference_name}: " + "; ".join(problems)
            )
    return valid


def schema_of(frame: pd.DataFrame) -> dict[str, Any]:
    """Column names and dtypes, as stored with a dataset version."""
    return {str(name): str(dtype) for name, dtype in frame.dtypes.items()}
