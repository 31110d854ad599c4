"""docs/monitoring.md runs: serve, collect, drift found, new data lands, retrain, accept a shift."""

from __future__ import annotations

import json
from pathlib import Path

from tests.docs.test_docs_commands import _checkout_copy, _run_page


def test_monitoring_commands_run_from_traffic_to_a_new_champion(tmp_path: Path) -> None:
    root = _checkout_copy(tmp_path)
    completed = _run_page("monitoring.md", root)
    assert completed.returncode == 0, completed.stderr[-3000:]
    out = completed.stdout

    before = json.loads((root / "reports" / "before" / "drift_summary.json").read_text())
    assert before["verdict"] == "no_drift"
    assert before["current_rows"] == 300
    after = json.loads((root / "reports" / "after" / "drift_summary.json").read_text())
    assert after["verdict"] == "drift", (after, out)
    assert [c for c in after["drifted_columns"] if c != "prediction"] == ["BMI"]
    assert after["current_rows"] == 900
    assert "drift check exit code: 3" in out

    assert "new_data.csv: registered diabetes_ds:2" in out, out
    assert "new champion diabetes_regression_model:2" in out

    assert "refused, as expected" in out
    assert "registered diabetes_ds:3" in out
    assert "accepted shift from diabetes_ds:2" in out
