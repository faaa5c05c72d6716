"""Summary statistics for the benchmarks: percentiles, summaries and labhub/stock ratios."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation between ranks; None for no values."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    data = sorted(values)
    if not data:
        return None
    rank = (len(data) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return data[low] + (data[high] - data[low]) * (rank - low)


def summary(values: Sequence[float]) -> dict:
    """n, p50, p95, mean, min and max of `values` (None where there are no values)."""
    data = list(values)
    return {
        "n": len(data),
        "p50": percentile(data, 50),
        "p95": percentile(data, 95),
        "mean": sum(data) / len(data) if data else None,
        "min": min(data) if data else None,
        "max": max(data) if data else None,
    }


def ratio(labhub: float | None, stock: float | None) -> float | None:
    """labhub / stock, or None where either side has no figure or the baseline is zero."""
    if labhub is None or stock is None or stock == 0:
        return None
    return labhub / stock


def rate(successes: int, total: int) -> float | None:
    """Share of successes, 0..1 (None for nothing attempted)."""
    return successes / total if total else None
