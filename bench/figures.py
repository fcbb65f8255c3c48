"""Small helpers every benchmark section uses to turn timings into figures."""

from __future__ import annotations

import statistics


def quantile(values: list[float], q: float) -> float:
    """The q-quantile (0 < q < 1, in hundredths) of the values; NaN for none."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[round(q * 100) - 1]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)
