"""Drift statistics on the bundled diabetes data: same distribution, one shifted feature, too few."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diabetes_regression.parameters import load_parameters
from ml_service.monitoring.drift import (
    DriftChecks,
    Verdict,
    bin_edges,
    bin_shares,
    compare,
    psi,
    summary,
)

CHECKS = load_parameters().monitoring  # the shipped thresholds, as users get them
FEATURES = ["AGE", "SEX", "BMI", "BP", "S1", "S2", "S3", "S4", "S5", "S6"]


def _drawn_from(reference: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """Rows drawn from the reference's distribution (resampled), as live traffic would be."""
    return reference.sample(n=rows, replace=True, random_state=seed).reset_index(drop=True)


@pytest.mark.parametrize("seed", range(5))
def test_data_from_the_training_distribution_does_not_drift(diabetes_frame, seed):
    current = _drawn_from(diabetes_frame, 300, seed)
    result = compare(diabetes_frame, current, [*FEATURES, "Y"], CHECKS)
    assert result.verdict is Verdict.NO_DRIFT, result.message
    assert result.drifted_columns == []
    assert len(result.columns) == 11


def test_one_shifted_feature_drifts_alone(diabetes_frame):
    current = _drawn_from(diabetes_frame, 300, 7)
    current["BMI"] += diabetes_frame["BMI"].std()
    result = compare(diabetes_frame, current, FEATURES, CHECKS)
    assert result.verdict is Verdict.DRIFT
    assert result.drifted_columns == ["BMI"]
    bmi = next(c for c in result.columns if c.column == "BMI")
    assert bmi.psi >= CHECKS.psi_threshold
    assert bmi.ks_p_value < CHECKS.ks_p_value
    assert bmi.current_mean > bmi.reference_mean
    assert "BMI" in result.message


def test_a_wider_spread_with_the_same_mean_drifts(diabetes_frame):
    current = _drawn_from(diabetes_frame, 300, 3)
    mean = diabetes_frame["S5"].mean()
    current["S5"] = mean + (current["S5"] - mean) * 3
    assert compare(diabetes_frame, current, FEATURES, CHECKS).drifted_columns == ["S5"]


def test_too_little_current_data_gives_no_verdict(diabetes_frame):
    current = diabetes_frame.head(CHECKS.min_rows - 1).copy()
    current["BMI"] += 10  # a huge shift, yet too few rows to judge
    result = compare(diabetes_frame, current, FEATURES, CHECKS)
    assert result.verdict is Verdict.INSUFFICIENT_DATA
    assert result.columns == []
    assert f"at least {CHECKS.min_rows}" in result.message
    assert summary(result)["verdict"] == "insufficient_data"


def test_exactly_the_minimum_gives_a_verdict(diabetes_frame):
    result = compare(diabetes_frame, diabetes_frame.head(CHECKS.min_rows), FEATURES, CHECKS)
    assert result.verdict is not Verdict.INSUFFICIENT_DATA


def test_psi_of_identical_shares_is_zero_and_grows_with_the_shift():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=5000)
    edges = bin_edges(reference, 10)
    shares = bin_shares(reference, edges)
    assert psi(shares, shares) == 0
    assert np.allclose(shares, 0.1, atol=0.01)  # quantile bins hold equal shares
    small = psi(shares, bin_shares(reference + 0.1, edges))
    large = psi(shares, bin_shares(reference + 1.0, edges))
    assert 0 < small < 0.1 < CHECKS.psi_threshold < large


def test_a_discrete_column_gets_one_bin_per_value(diabetes_frame):
    sex = diabetes_frame["SEX"].to_numpy()
    edges = bin_edges(sex, 10)
    assert len(edges) <= 2  # two values: duplicate quantiles merged, not ten bins
    shares = bin_shares(sex, edges)
    assert shares.sum() == pytest.approx(1)
    assert sorted(shares[shares > 0]) == pytest.approx(
        sorted(diabetes_frame["SEX"].value_counts(normalize=True))
    )


def test_summary_is_json_ready(diabetes_frame):
    import json

    current = _drawn_from(diabetes_frame, 100, 1)
    data = summary(compare(diabetes_frame, current, FEATURES, CHECKS))
    again = json.loads(json.dumps(data))
    assert again["thresholds"] == CHECKS.model_dump()
    assert [c["column"] for c in again["columns"]] == FEATURES


def test_thresholds_are_checked():
    with pytest.raises(ValueError, match="ks_p_value"):
        DriftChecks(min_rows=50, bins=10, psi_threshold=0.2, ks_p_value=2)
    with pytest.raises(ValueError, match="extra"):
        DriftChecks.model_validate(
            {"min_rows": 50, "bins": 10, "psi_threshold": 0.2, "ks_p_value": 0.01, "psi": 1}
        )


def test_missing_columns_are_named(diabetes_frame):
    with pytest.raises(ValueError, match="prediction"):
        compare(diabetes_frame, diabetes_frame, ["prediction"], CHECKS)
