"""Axis ranges for live plots that stay put until the data really needs a new one.

Why: pyqtgraph redraws an axis (tick labels and grid) whenever its range changes,
and auto-range changes it on every update of a live curve. With the axes cached
as pixmaps (plots.py), a range that moves only when the data leaves it, or shrinks
to a small part of it, lets the dashboard repaint by blitting instead of drawing
text. Bounds are rounded to 1, 2, 2.5 or 5 times a power of ten, so ticks stay
on round numbers.
"""

from __future__ import annotations

import math

_MANTISSAS = (1.0, 2.0, 2.5, 5.0, 10.0)


def nice_ceil(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^k that is >= value (value > 0)."""
    exponent = math.floor(math.log10(value))
    for mantissa in _MANTISSAS:
        candidate = mantissa * 10.0**exponent
        if candidate >= value * (1 - 1e-12):
            return candidate
    return 10.0 ** (exponent + 1)


def nice_step(span: float) -> float:
    """A round step for about five ticks over ``span``."""
    return nice_ceil(span / 5.0)


class StickyRange:
    """One axis's range for data between ``lo`` and ``hi``.

    ``update`` returns a new (low, high) when the data no longer fits, or fills less
    than ``min_fill`` of the range; otherwise None (keep the current range).
    ``from_zero`` pins the low end at 0 (rates, latencies, power); without it both
    ends follow the data (memory, clock), with a margin on each side.
    """

    def __init__(self, *, from_zero: bool = True, headroom: float = 1.25, min_fill: float = 0.35) -> None:
        self.from_zero = from_zero
        self.headroom = headroom
        self.min_fill = min_fill
        self.current: tuple[float, float] | None = None

    def update(self, lo: float, hi: float) -> tuple[float, float] | None:
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return None
        if self.from_zero:
            lo = min(0.0, lo)
        if self.current is not None:
            low, high = self.current
            fits = low <= lo and hi <= high
            if fits and (hi - lo) >= self.min_fill * (high - low):
                return None
        self.current = self._range_for(lo, hi)
        return self.current

    def _range_for(self, lo: float, hi: float) -> tuple[float, float]:
        if self.from_zero and lo >= 0.0:
            return 0.0, nice_ceil(max(hi * self.headroom, 1e-9))
        span = max(hi - lo, abs(hi) * 0.02, 1e-9)
        step = nice_step(span * self.headroom)
        margin = span * (self.headroom - 1.0) / 2.0
        return math.floor((lo - margin) / step) * step, math.ceil((hi + margin) / step) * step
