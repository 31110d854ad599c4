"""--error-threshold: a count or a percentage, exceeded as ParallelRunStep's error_threshold is."""

from __future__ import annotations

import pytest

from ml_service.batch.threshold import ErrorThreshold, parse_threshold
from ml_service.errors import BatchInputError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", ErrorThreshold(count=0)),
        ("10", ErrorThreshold(count=10)),
        ("-1", ErrorThreshold(count=-1)),
        (" 5 ", ErrorThreshold(count=5)),
        ("1%", ErrorThreshold(percent=1.0)),
        ("2.5%", ErrorThreshold(percent=2.5)),
        ("100%", ErrorThreshold(percent=100.0)),
        ("0 %", ErrorThreshold(percent=0.0)),
    ],
)
def test_counts_and_percentages_parse(text: str, expected: ErrorThreshold) -> None:
    assert parse_threshold(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "give a count of rows"),
        ("ten", "give a count of rows"),
        ("1.5", "give a count of rows"),
        ("-2", "-1: no limit"),
        ("101%", "at most 100%"),
        ("-1%", "give a count of rows"),
    ],
)
def test_anything_else_is_refused_naming_the_option(text: str, message: str) -> None:
    with pytest.raises(BatchInputError, match="--error-threshold") as raised:
        parse_threshold(text)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("threshold", "rejected", "rows", "exceeded"),
    [
        ("0", 0, 100, False),
        ("0", 1, 100, True),
        ("3", 3, 100, False),
        ("3", 4, 100, True),
        ("-1", 10**9, 10**9, False),
        ("1%", 1, 100, False),
        ("1%", 2, 100, True),
        ("1%", 0, 0, False),
        ("0%", 1, 10**6, True),
        ("100%", 50, 50, False),
        ("2.5%", 25, 1000, False),
        ("2.5%", 26, 1000, True),
    ],
)
def test_a_threshold_is_exceeded_only_above_it(
    threshold: str, rejected: int, rows: int, exceeded: bool
) -> None:
    assert parse_threshold(threshold).exceeded(rejected, rows) is exceeded


def test_it_prints_as_given() -> None:
    assert str(parse_threshold("2.5%")) == "2.5%"
    assert str(parse_threshold("7")) == "7"
