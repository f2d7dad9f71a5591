"""Rolling per-model statistics for live display (about a minute of history)."""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass

import numpy as np

from segview.types import StageTimings

WINDOW_S = 60.0


@dataclass(frozen=True, slots=True)
class ModelSeries:
    """Per-second series over the window, oldest first. Times are seconds before now (negative)."""

    seconds: np.ndarray
    fps: np.ndarray
    latency_p50: np.ndarray
    stage_medians: dict[str, np.ndarray]
    recent_latencies: np.ndarray  # end-to-end ms of the last few hundred frames, for a histogram
    current_fps: float
    current_latency_ms: float


class LiveStats:
    """Thread-safe: the pipeline's consumer thread adds, the GUI thread reads snapshots."""

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self.window_s = window_s
        self._lock = threading.Lock()
        self._frames: dict[str, collections.deque[tuple[float, StageTimings]]] = {}
        self._ious: collections.deque[tuple[float, float]] = collections.deque()

    def reset(self) -> None:
        with self._lock:
            self._frames.clear()
            self._ious.clear()

    def add(self, model: str, at: float, timings: StageTimings) -> None:
        with self._lock:
            series = self._frames.setdefault(model, collections.deque())
            series.append((at, timings))
            self._trim(series, at)

    def add_iou(self, at: float, iou: float) -> None:
        with self._lock:
            self._ious.append((at, iou))
            self._trim(self._ious, at)

    def _trim(self, series: collections.deque, now: float) -> None:
        while series and series[0][0] < now - self.window_s:
            series.popleft()

    def models(self) -> list[str]:
        with self._lock:
            return list(self._frames)

    def iou_series(self, now: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        now = time.perf_counter() if now is None else now
        with self._lock:
            items = list(self._ious)
        if not items:
            return np.empty(0), np.empty(0)
        t = np.array([a for a, _ in items]) - now
        return t, np.array([v for _, v in items])

    def series(self, model: str, now: float | None = None) -> ModelSeries | None:
        now = time.perf_counter() if now is None else now
        with self._lock:
            items = list(self._frames.get(model, ()))
        if not items:
            return None
        times = np.array([t for t, _ in items])
        latencies = np.array([s.end_to_end_ms for _, s in items])
        stages = {k: np.array([getattr(s, k) for _, s in items]) for k in StageTimings.STAGES}
        # Bucket by whole seconds before now; the current, partial second is left out.
        age = np.floor(now - times).astype(int)
        buckets = np.arange(int(self.window_s), 0, -1)
        fps = np.array([np.count_nonzero(age == b) for b in buckets], dtype=float)
        lat = np.array([_median_or_nan(latencies[age == b]) for b in buckets])
        stage_medians = {k: np.array([_median_or_nan(v[age == b]) for b in buckets]) for k, v in stages.items()}
        recent = times > now - 1.0
        current_fps = float(np.count_nonzero(recent))
        return ModelSeries(
            seconds=-buckets.astype(float),
            # Before the model's first frame there is no rate to show (a gap), after it a stall is a real 0.
            fps=np.where(buckets <= age[0], fps, np.nan),
            latency_p50=lat,
            stage_medians=stage_medians,
            recent_latencies=latencies[-600:],
            current_fps=current_fps,
            current_latency_ms=_median_or_nan(latencies[recent]) if recent.any() else float("nan"),
        )


def _median_or_nan(values: np.ndarray) -> float:
    return float(np.median(values)) if values.size else float("nan")
