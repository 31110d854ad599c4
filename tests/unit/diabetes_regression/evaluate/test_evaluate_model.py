"""The challenger-vs-champion rule, driven by parameters.json's evaluation section."""

from __future__ import annotations

import pytest

from diabetes_regression.evaluate.evaluate_model import compare
from diabetes_regression.parameters import EvaluationParameters


def rule(metric: str = "mse", min_improvement: float = 0.0) -> EvaluationParameters:
    return EvaluationParameters(metric=metric, min_improvement=min_improvement)  # type: ignore[arg-type]


def test_first_model_passes() -> None:
    verdict = compare(5000.0, None, rule())
    assert verdict.better
    assert "first model" in verdict.reason


@pytest.mark.parametrize(
    ("challenger", "champion", "better"),
    [(3000.0, 3300.0, True), (3300.0, 3300.0, False), (3400.0, 3300.0, False)],
)
def test_lower_error_is_better(challenger: float, champion: float, better: bool) -> None:
    assert compare(challenger, champion, rule("mse")).better is better


@pytest.mark.parametrize(
    ("challenger", "champion", "better"),
    [(0.5, 0.4, True), (0.4, 0.4, False), (0.3, 0.4, False)],
)
def test_higher_r2_is_better(challenger: float, champion: float, better: bool) -> None:
    assert compare(challenger, champion, rule("r2")).better is better


def test_min_improvement_is_relative_to_champion() -> None:
    one_percent = rule("mse", 0.01)
    assert not compare(3280.0, 3300.0, one_percent).better  # 0.6 % better
    assert compare(3260.0, 3300.0, one_percent).better  # 1.2 % better
    assert "needs 1.00% improvement" in compare(3280.0, 3300.0, one_percent).reason


def test_verdict_names_metric_and_values() -> None:
    verdict = compare(3400.0, 3300.0, rule("mae"))
    assert verdict.metric == "mae"
    assert verdict.reason == "mae 3400.0000 vs champion 3300.0000: not better"
