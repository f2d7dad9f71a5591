"""Summaries of timing series."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Percentiles:
    p50: float
    p95: float
    p99: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Percentiles:
        if len(values) == 0:
            return cls(float("nan"), float("nan"), float("nan"))
        p50, p95, p99 = np.percentile(np.asarray(values, dtype=np.float64), [50, 95, 99])
        return cls(float(p50), float(p95), float(p99))

    def as_dict(self) -> dict[str, float | None]:
        return {"p50": rounded(self.p50), "p95": rounded(self.p95), "p99": rounded(self.p99)}


def median(values: Sequence[float]) -> float:
    return float(np.median(values)) if len(values) else float("nan")


def rate(timestamps: Sequence[float]) -> float:
    """Events per second over a series of completion times (first to last)."""
    if len(timestamps) < 2:
        return float("nan")
    span = max(timestamps) - min(timestamps)
    return (len(timestamps) - 1) / span if span > 0 else float("nan")


def rounded(value: float | None, digits: int = 4) -> float | None:
    """For JSON: NaN (nothing measured) becomes null."""
    if value is None or math.isnan(value):
        return None
    return round(float(value), digits)
