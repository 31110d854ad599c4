"""Every bad input is one `error:` line from `mlops batch-score`, before any work, leaving nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import DIABETES_CSV
from tests.integration.batch.conftest import batch_score


def files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def inputs(tmp_path: Path, diabetes: pd.DataFrame) -> Path:
    folder = tmp_path / "inputs"
    folder.mkdir()
    diabetes.drop(columns=["BMI"]).to_csv(folder / "no_bmi.csv", index=False)
    diabetes.assign(BMI=diabetes["BMI"] > 0).to_parquet(folder / "bool_bmi.parquet", index=False)
    diabetes.assign(score=1.0).to_csv(folder / "has_score.csv", index=False)
    (folder / "garbage.parquet").write_bytes(b"this is not parquet")
    (folder / "data.json").write_text("{}")
    (folder / "empty_folder").mkdir()
    mixed = folder / "mixed"
    mixed.mkdir()
    diabetes.to_csv(mixed / "a.csv", index=False)
    diabetes.drop(columns=["Y"]).to_csv(mixed / "b.csv", index=False)
    (folder / "a_file").write_text("")
    return folder


CASES = [
    # (input, output, extra options, message after "error: ")
    ("missing.csv", "out.csv", [], "--input missing.csv: no such file or folder"),
    (
        "inputs/no_bmi.csv",
        "out.csv",
        [],
        "missing feature column BMI (the model takes AGE, SEX, BMI",
    ),
    (
        "inputs/bool_bmi.parquet",
        "out.csv",
        [],
        "column BMI holds bool values; the model takes numbers",
    ),
    (
        "inputs/has_score.csv",
        "out.csv",
        [],
        "it already has a column 'score'; name the score column otherwise",
    ),
    ("inputs/garbage.parquet", "out.csv", [], "cannot read it as parquet"),
    ("inputs/data.json", "out.csv", [], "unknown file type .json; use .csv, .parquet or .pq"),
    ("inputs/empty_folder", "out.csv", [], "the folder holds no .csv or .parquet file"),
    ("inputs/mixed", "out.csv", [], "the files of a folder must have the same columns"),
    ("no_such_ds:3", "out.csv", [], "dataset 'no_such_ds' has no versions"),
    (
        str(DIABETES_CSV),
        "out.txt",
        [],
        "cannot tell the format from .txt; end it with .csv or .parquet",
    ),
    (str(DIABETES_CSV), "inputs", [], "--output inputs is a folder; give a file name"),
    (
        str(DIABETES_CSV),
        "inputs/a_file/out.csv",
        [],
        "--output inputs/a_file/out.csv: cannot write there",
    ),
    (str(DIABETES_CSV), str(DIABETES_CSV), [], "is the input file; write the scores elsewhere"),
    (
        str(DIABETES_CSV),
        "out.csv",
        ["--model", "models:/diabetes_regression_model@nope"],
        "has no alias 'nope'",
    ),
    (str(DIABETES_CSV), "out.csv", ["--model", "models:/unknown_model/1"], "has no version 1"),
    (
        str(DIABETES_CSV),
        "out.csv",
        ["--error-threshold", "lots"],
        "--error-threshold 'lots': give a count",
    ),
    (str(DIABETES_CSV), "out.csv", ["--score-column", " "], "--score-column: give a column name"),
]


@pytest.mark.parametrize(("source", "output", "extra", "message"), CASES)
def test_a_bad_input_is_one_error_line_and_leaves_nothing(
    batch_env, inputs, tmp_path, source, output, extra, message
):
    before = files(tmp_path)
    result = batch_score("--input", source, "--output", output, *extra)
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert message in lines[0]
    assert files(tmp_path) == before  # no output, no rejects, no temporary file


def test_unknown_format_and_bad_workers_are_usage_errors(batch_env, tmp_path):
    result = batch_score("--input", str(DIABETES_CSV), "--output", "o.csv", "--format", "xml")
    assert result.exit_code == 2 and "'xml' is not one of 'csv', 'parquet'" in result.output
    result = batch_score("--input", str(DIABETES_CSV), "--output", "o.csv", "--workers", "0")
    assert result.exit_code == 2 and "--workers" in result.output
