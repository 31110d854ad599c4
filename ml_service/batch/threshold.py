"""`--error-threshold`: how many rejected rows a job tolerates (a count or a percentage).

As ParallelRunStep's `error_threshold`: a job fails when its rejects exceed the
threshold; `-1` tolerates any number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ml_service.errors import BatchInputError

_PERCENT = re.compile(r"^(?P<value>\d+(?:\.\d+)?)\s*%$")
_COUNT = re.compile(r"^-?\d+$")


@dataclass(frozen=True)
class ErrorThreshold:
    """Rejected rows a job tolerates: `count` rows, or `percent` of the rows read."""

    count: int | None = None
    percent: float | None = None

    def exceeded(self, rejected: int, rows: int) -> bool:
        """Whether `rejected` of `rows` read is more than this threshold allows."""
        if self.percent is not None:
            return rejected * 100 > self.percent * rows
        return self.count is not None and self.count >= 0 and rejected > self.count

    def __str__(self) -> str:
        if self.percent is not None:
            return f"{self.percent:g}%"
        return str(self.count)


def parse_threshold(text: str) -> ErrorThreshold:
    """`N` (a count of rows, `-1` for no limit) or `P%` (a percentage of the rows read).

    Raises:
        BatchInputError: neither form, or a percentage above 100 or a count below -1.
    """
    cleaned = text.strip()
    percent = _PERCENT.match(cleaned)
    if percent:
        value = float(percent["value"])
        if value > 100:
            raise BatchInputError(f"--error-threshold {text!r}: a percentage is at most 100%")
        return ErrorThreshold(percent=value)
    if _COUNT.match(cleaned):
        count = int(cleaned)
        if count < -1:
            raise BatchInputError(
                f"--error-threshold {text!r}: give a count of rows (-1: no limit) or a percentage"
            )
        return ErrorThreshold(count=count)
    raise BatchInputError(
        f"--error-threshold {text!r}: give a count of rows such as 10 (-1: no limit) "
        "or a percentage such as 1%"
    )
