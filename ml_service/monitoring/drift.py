"""Drift statistics: each column's current values against the training data's, pure.

Two statistics per column, both computed on numbers only (no I/O here):

- the population stability index (PSI) over bins cut at the reference's
  quantiles, which says how *large* the change of the distribution is;
- the two-sample Kolmogorov-Smirnov test (scipy.stats.ks_2samp), which says
  whether the change is *significant* for the sample sizes at hand.

A column drifts when both agree: its PSI reaches `psi_threshold` and the KS
p-value is below `ks_p_value`. PSI alone flags noise on small samples; KS
alone flags irrelevant differences on large ones. With fewer than `min_rows`
current rows there is no verdict at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    import pandas as pd

# Share given to an empty bin, so PSI's logarithm stays finite.
_EMPTY_BIN_SHARE = 1e-4


class DriftChecks(BaseModel):
    """How drift is judged (parameters.json, section `monitoring`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_rows: int = Field(
        ge=10, description="Fewest current rows (scored rows) for a drift verdict."
    )
    bins: int = Field(ge=2, le=100, description="Bins for PSI, cut at the reference's quantiles.")
    psi_threshold: float = Field(
        gt=0, description="PSI from which a column's change counts as large (0.2 is usual)."
    )
    ks_p_value: float = Field(
        gt=0,
        lt=1,
        description="KS test p-value below which a column's change counts as significant.",
    )


class Verdict(StrEnum):
    """The outcome of a drift check."""

    NO_DRIFT = "no_drift"
    DRIFT = "drift"
    INSUFFICIENT_DATA = "insufficient_data"


@dataclass(frozen=True)
class ColumnDrift:
    """One column's statistics, verdict and the binned shares the report plots."""

    column: str
    reference_rows: int
    current_rows: int
    psi: float
    ks_statistic: float
    ks_p_value: float
    reference_mean: float
    current_mean: float
    drifted: bool
    bin_edges: list[float]
    reference_shares: list[float]
    current_shares: list[float]


@dataclass(frozen=True)
class DriftResult:
    """The verdict over all columns; `columns` is empty when there is too little data."""

    verdict: Verdict
    reference_rows: int
    current_rows: int
    checks: DriftChecks
    columns: list[ColumnDrift] = field(default_factory=list)
    message: str = ""

    @property
    def drifted_columns(self) -> list[str]:
        """Names of the columns that drift."""
        return [c.column for c in self.columns if c.drifted]


def bin_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """Inner bin edges at the reference's quantiles; duplicates (discrete columns) merged."""
    quantiles = np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1])
    return np.unique(quantiles)


def bin_shares(values: np.ndarray, inner_edges: np.ndarray) -> np.ndarray:
    """Share of `values` in each bin; bins are (-inf, e1], (e1, e2], ..., (ek, inf)."""
    counts = np.bincount(
        np.searchsorted(inner_edges, values, side="left"), minlength=len(inner_edges) + 1
    )
    return counts / max(len(values), 1)


def psi(reference_shares: np.ndarray, current_shares: np.ndarray) -> float:
    """Population stability index of two binnings of the same edges."""
    ref = np.clip(reference_shares, _EMPTY_BIN_SHARE, None)
    cur = np.clip(current_shares, _EMPTY_BIN_SHARE, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def column_drift(
    column: str, reference: np.ndarray, current: np.ndarray, checks: DriftChecks
) -> ColumnDrift:
    """PSI and KS of one column, and whether it drifts."""
    from scipy.stats import ks_2samp

    reference = reference[np.isfinite(reference)]
    current = current[np.isfinite(current)]
    inner = bin_edges(reference, checks.bins)
    ref_shares = bin_shares(reference, inner)
    cur_shares = bin_shares(current, inner)
    value = psi(ref_shares, cur_shares)
    test = ks_2samp(reference, current)
    statistic, p_value = float(test.statistic), float(test.pvalue)
    low = float(min(reference.min(), current.min()))
    high = float(max(reference.max(), current.max()))
    return ColumnDrift(
        column=column,
        reference_rows=len(reference),
        current_rows=len(current),
        psi=value,
        ks_statistic=statistic,
        ks_p_value=p_value,
        reference_mean=float(reference.mean()),
        current_mean=float(current.mean()),
        drifted=value >= checks.psi_threshold and p_value < checks.ks_p_value,
        bin_edges=[low, *(float(e) for e in inner), high],
        reference_shares=[float(s) for s in ref_shares],
        current_shares=[float(s) for s in cur_shares],
    )


def compare(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: list[str],
    checks: DriftChecks,
) -> DriftResult:
    """Compare `columns` of the current data with the reference data.

    Args:
        reference: the data the model was trained on (and its predictions, if compared).
        current: what the service scored.
        columns: the columns to compare, present in both frames.
        checks: thresholds and the minimum sample size.

    Returns:
        INSUFFICIENT_DATA (no columns) when either side has fewer than
        `checks.min_rows` rows; else DRIFT when any column drifts, NO_DRIFT otherwise.
    """
    if len(current) < checks.min_rows or len(reference) < checks.min_rows:
        side = "current" if len(current) < checks.min_rows else "reference"
        return DriftResult(
            verdict=Verdict.INSUFFICIENT_DATA,
            reference_rows=len(reference),
            current_rows=len(current),
            checks=checks,
            message=(
                f"too little data for a verdict: {min(len(current), len(reference))} {side} "
                f"rows, at least {checks.min_rows} are needed (monitoring.min_rows)"
            ),
        )
    missing = [c for c in columns if c not in reference.columns or c not in current.columns]
    if missing:
        raise ValueError(f"columns missing from the data compared: {', '.join(missing)}")
    results = [
        column_drift(
            name,
            reference[name].to_numpy(dtype=float),
            current[name].to_numpy(dtype=float),
            checks,
        )
        for name in columns
    ]
    drifted = [r.column for r in results if r.drifted]
    verdict = Verdict.DRIFT if drifted else Verdict.NO_DRIFT
    message = (
        f"drift in {len(drifted)} of {len(results)} columns: {', '.join(drifted)}"
        if drifted
        else f"no drift in {len(results)} columns"
    )
    return DriftResult(
        verdict=verdict,
        reference_rows=len(reference),
        current_rows=len(current),
        checks=checks,
        columns=results,
        message=message,
    )


def summary(result: DriftResult) -> dict[str, object]:
    """The result as plain JSON-ready data (the JSON summary and the MLflow run log it)."""
    return {
        "verdict": result.verdict.value,
        "message": result.message,
        "reference_rows": result.reference_rows,
        "current_rows": result.current_rows,
        "thresholds": result.checks.model_dump(),
        "drifted_columns": result.drifted_columns,
        "columns": [
            {
                "column": c.column,
                "psi": _finite_or_none(c.psi),
                "ks_statistic": _finite_or_none(c.ks_statistic),
                "ks_p_value": _finite_or_none(c.ks_p_value),
                "reference_mean": _finite_or_none(c.reference_mean),
                "current_mean": _finite_or_none(c.current_mean),
                "reference_rows": c.reference_rows,
                "current_rows": c.current_rows,
                "drifted": c.drifted,
            }
            for c in result.columns
        ],
    }


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None
