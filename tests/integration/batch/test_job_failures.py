"""A job that fails once running (a scoring or writing thread, the tracking store) is one
`error:` line, not a traceback, and publishes nothing."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from ml_service.batch import job
from ml_service.batch.output import RowWriter
from tests.conftest import DIABETES_CSV
from tests.integration.batch.conftest import batch_score


def only_error_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("error: "), output
    assert "Traceback" not in output
    return lines[0]


def test_a_scoring_threads_error_is_one_line_naming_the_rows(
    batch_env, diabetes: pd.DataFrame, tmp_path, monkeypatch: pytest.MonkeyPatch
):
    # 2,652 rows, AGE numbering them from 0: chunks of 1,024 rows start at AGE 0, 1024, 2048.
    rows = pd.concat([diabetes] * 6, ignore_index=True)
    rows["AGE"] = range(len(rows))
    source = tmp_path / "rows.csv"
    rows.to_csv(source, index=False)
    real_score_rows = job.score_rows

    def fails_on_the_third_chunk(batch: pa.RecordBatch, *args: Any) -> Any:
        if str(batch.column("AGE")[0]) == "2048":  # features are read as text, then checked
            raise RuntimeError("onnxruntime: bad allocation\nmore detail")
        return real_score_rows(batch, *args)

    monkeypatch.setattr(job, "score_rows", fails_on_the_third_chunk)
    output = tmp_path / "out" / "scores.csv"
    result = batch_score(
        "--input", str(source), "--output", str(output), "--workers", "2",
        "--chunk-rows", "1024", "--quiet",
    )  # fmt: skip
    assert result.exit_code == 1
    assert only_error_line(result.output) == (
        f"error: scoring rows 2049-2652 of {source} failed: "
        "RuntimeError: onnxruntime: bad allocation; no output written"
    )
    assert list(output.parent.iterdir()) == []


def test_a_writing_threads_error_is_one_output_error_line(
    batch_env, tmp_path, monkeypatch: pytest.MonkeyPatch
):
    def disk_full(self: RowWriter, batch: pa.RecordBatch) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(RowWriter, "write", disk_full)
    output = tmp_path / "out" / "scores.parquet"
    result = batch_score("--input", str(DIABETES_CSV), "--output", str(output), "--quiet")
    assert result.exit_code == 1
    assert only_error_line(result.output) == (
        f"error: --output {output}: cannot write there (No space left on device); no output written"
    )
    assert list(output.parent.iterdir()) == []


def test_a_tracking_store_that_cannot_be_opened_fails_the_job_with_no_output(
    batch_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    not_a_database = tmp_path / "store" / "mlflow.db"
    not_a_database.parent.mkdir()
    not_a_database.write_text("this is not a database\n" * 100)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{not_a_database}")
    output = tmp_path / "out" / "scores.csv"
    result = batch_score(
        "--model", str(batch_env.local_dir), "--input", str(DIABETES_CSV),
        "--output", str(output), "--quiet",
    )  # fmt: skip
    assert result.exit_code == 1
    line = only_error_line(result.output)
    assert line.startswith(
        f"error: cannot record the job in the tracking store: sqlite:///{not_a_database}: "
    )
    assert "not a database" in line
    assert list(output.parent.iterdir()) == []
