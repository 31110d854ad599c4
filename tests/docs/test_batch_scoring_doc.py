"""docs/batch-scoring.md's commands run, in order, from a fresh folder holding the data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.docs.test_docs_commands import _checkout_copy, _run_page


@pytest.mark.slow
def test_batch_scoring_commands_run(tmp_path: Path) -> None:
    root = _checkout_copy(tmp_path)
    completed = _run_page("batch-scoring.md", root)
    assert completed.returncode == 0, completed.stderr[-3000:]
    out = completed.stdout
    assert "scored 442 rows (0 rejected)" in out
    assert "= diabetes_scoring_ds:1" in out
    assert "BP: not a number ('abc')" in out
    assert len(pd.read_parquet(root / "scores" / "diabetes.parquet")) == 442
    assert list(
        (root / ".mlops" / "datastore" / "scores" / "diabetes_regression_model" / "1").iterdir()
    )
