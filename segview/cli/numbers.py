"""Bounded numeric option types for argparse.

argparse names a failed converter by its ``__name__`` ("invalid _positive value: 'abc'"),
so every converter here raises ArgumentTypeError with a message of its own, and every
range is closed: a typo like ``--frames 1e9`` or ``--duration inf`` is refused at once
instead of running for ever.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

WEEK_S = 7 * 24 * 3600.0
MAX_FRAMES = 10_000_000
MAX_THREADS = 256
MAX_WORKERS = 64


def whole(low: int, high: int) -> Callable[[str], int]:
    """An integer in [low, high]."""

    def convert(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range: give {low} to {high}")
        return value

    convert.__name__ = f"whole number {low}..{high}"
    return convert


def real(low: float, high: float, *, low_open: bool = False) -> Callable[[str], float]:
    """A finite number in [low, high], or (low, high] with ``low_open`` (durations, rates)."""

    def convert(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if value < low or (low_open and value == low) or value > high:
            bound = f"above {low:g}" if low_open else f"at least {low:g}"
            raise argparse.ArgumentTypeError(f"{value:g} is out of range: give a number {bound} and at most {high:g}")
        return value

    convert.__name__ = f"number {low:g}..{high:g}"
    return convert


def seconds(high: float = WEEK_S) -> Callable[[str], float]:
    """A duration: finite, 0 < d <= high (a week by default)."""
    return real(0.0, high, low_open=True)


def thread_list(text: str) -> tuple[int, ...]:
    """Comma-separated thread counts, each 0 (onnxruntime's default) to MAX_THREADS."""
    one = whole(0, MAX_THREADS)
    return tuple(one(t) for t in comma_items(text, "thread counts"))


def comma_items(text: str, what: str) -> tuple[str, ...]:
    """'a, b,' -> ('a', 'b'): the non-blank items, stripped; at least one."""
    items = tuple(t.strip() for t in text.split(",") if t.strip())
    if not items:
        raise argparse.ArgumentTypeError(f"give one or more {what}, separated by commas")
    return items
