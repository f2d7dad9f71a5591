"""A dependency-free progress bar on stderr."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """Redraws at most 10 times a second on a terminal; prints nothing when stderr is not one.

    ``unit`` names what is counted ("frames", or "s" for a measured duration); the
    ETA assumes the rest goes at the pace so far, warm-ups included, since they recur.
    """

    def __init__(self, label: str, *, stream: TextIO | None = None, width: int = 30, unit: str = "") -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.unit = unit
        self.enabled = self.stream.isatty()
        self._last_draw = 0.0
        self._start = time.perf_counter()

    def __call__(self, done: float, total: float) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if done < total and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        # Clear to the end of the line: a shorter line (a shrinking ETA) leaves no stale characters.
        self.stream.write("\r" + self.line(done, total, now - self._start) + "\033[K")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()

    def line(self, done: float, total: float, elapsed: float) -> str:
        """The bar's text after ``elapsed`` seconds, e.g. ``bench [###---] 120/800 frames 78.1/s ETA 0:09``."""
        fraction = min(1.0, done / total) if total else 1.0
        filled = int(round(self.width * fraction))
        bar = "#" * filled + "-" * (self.width - filled)
        unit = f" {self.unit}" if self.unit else ""
        count = f"{done:.1f}/{total:g}{unit}" if self.unit == "s" else f"{done:.0f}/{total:.0f}{unit}"
        rate = f" {done / elapsed:6.1f}/s" if self.unit != "s" and elapsed > 0 else ""
        return f"{self.label} [{bar}] {count}{rate} ETA {_eta(done, total, elapsed)}"

    def close(self) -> None:
        if self.enabled and self._last_draw:
            self.stream.write("\r\033[K")
            self.stream.flush()


def _eta(done: float, total: float, elapsed: float) -> str:
    if done <= 0 or elapsed <= 0:
        return "--:--"
    left = max(0.0, elapsed * (total - done) / done)
    minutes, secs = divmod(int(round(left)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
