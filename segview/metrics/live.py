"""Rolling per-model statistics for live display (about a minute of history).

The consumer thread adds every frame (hundreds a second), the GUI thread reads
a few times a second: so adding is O(1) into the current one-second bucket, and
each finished second is summarised once, when the next one starts. Reading
never walks per-frame history.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from segview.types import SegmentationResult, StageTimings

WINDOW_S = 60
# The latency histogram shows the last this many frames.
HISTOGRAM_FRAMES = 600


@dataclass(frozen=True, slots=True)
class ModelSeries:
    """Per-second series over the window, oldest first. ``seconds`` are before now (negative)."""

    seconds: np.ndarray
    fps: np.ndarray
    latency_p50: np.ndarray
    stage_medians: dict[str, np.ndarray]
    recent_latencies: np.ndarray  # end-to-end ms of the last few hundred frames, for a histogram
    current_fps: float
    current_latency_ms: float


@dataclass(slots=True)
class _Second:
    """One model's frames within one wall-clock second."""

    start: int
    latencies: list[float] = field(default_factory=list)
    stages: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in StageTimings.STAGES})

    def summary(self) -> tuple[int, int, float, dict[str, float]]:
        return (
            self.start,
            len(self.latencies),
            float(np.median(self.latencies)) if self.latencies else math.nan,
            {k: float(np.median(v)) if v else math.nan for k, v in self.stages.items()},
        )


class _ModelHistory:
    def __init__(self, window_s: int) -> None:
        self.current: _Second | None = None
        self.done: collections.deque[tuple[int, int, float, dict[str, float]]] = collections.deque(maxlen=window_s)
        self.recent: collections.deque[float] = collections.deque(maxlen=HISTOGRAM_FRAMES)
        self.first_second: int | None = None

    def last_second(self, start: int) -> tuple[int, int, float, dict[str, float]] | None:
        """The summary of the second beginning at ``start``: usually the newest finished one, but until
        the next second's first frame arrives it is still the open bucket."""
        if self.current is not None and self.current.start == start:
            return self.current.summary()
        if self.done and self.done[-1][0] == start:
            return self.done[-1]
        return None

    def add(self, at: float, timings: StageTimings) -> None:
        second = int(at)
        if self.current is None or self.current.start != second:
            if self.current is not None:
                self.done.append(self.current.summary())
            self.current = _Second(second)
            if self.first_second is None:
                self.first_second = second
        self.current.latencies.append(timings.end_to_end_ms)
        for key, values in self.current.stages.items():
            values.append(getattr(timings, key))
        self.recent.append(timings.end_to_end_ms)


class LiveStats:
    """Thread-safe: the pipeline's consumer thread adds, the GUI thread reads snapshots."""

    def __init__(self, window_s: int = WINDOW_S) -> None:
        self.window_s = window_s
        self._lock = threading.Lock()
        self._models: dict[str, _ModelHistory] = {}
        self._ious: collections.deque[tuple[float, float]] = collections.deque(maxlen=window_s * 60)

    def reset(self) -> None:
        with self._lock:
            self._models.clear()
            self._ious.clear()

    def keep_only(self, models: list[str]) -> None:
        """Forget the models no longer shown; the others' history goes on (ticking a model no
        longer wipes the FPS curves of those already running). The compared pair is chosen
        again with every change of models, so the IoU history starts over."""
        with self._lock:
            self._models = {name: history for name, history in self._models.items() if name in models}
            self._ious.clear()

    def add(self, model: str, at: float, timings: StageTimings) -> None:
        """Consumer thread; ``at`` is a perf_counter time."""
        with self._lock:
            self._history(model).add(at, timings)

    def add_frame(self, at: float, results: Iterable[SegmentationResult]) -> None:
        """Consumer thread: every model's timings for one frame, under one lock."""
        with self._lock:
            for result in results:
                self._history(result.model).add(at, result.timings)

    def _history(self, model: str) -> _ModelHistory:
        """The model's history, made on its first frame (call with the lock held)."""
        history = self._models.get(model)
        if history is None:
            history = self._models[model] = _ModelHistory(self.window_s)
        return history

    def add_iou(self, at: float, iou: float) -> None:
        with self._lock:
            self._ious.append((at, iou))

    def models(self) -> list[str]:
        with self._lock:
            return list(self._models)

    def iou_series(self, now: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        now = time.perf_counter() if now is None else now
        with self._lock:
            items = [(t, v) for t, v in self._ious if t >= now - self.window_s]
        if not items:
            return np.empty(0), np.empty(0)
        arr = np.array(items)
        return arr[:, 0] - now, arr[:, 1]

    def current(self, model: str, now: float | None = None) -> tuple[float, float]:
        """(frames, median end-to-end ms) over the last whole second: cheap, for captions drawn 30 times a second."""
        last = self._last_second(model, now)
        if last is None:
            return 0.0, math.nan
        return float(last[1]), last[2]

    def current_stage_ms(self, model: str, stage: str, now: float | None = None) -> float:
        """Median ms of one stage (``inference_ms``...) over the last whole second, like current()."""
        last = self._last_second(model, now)
        return math.nan if last is None else last[3][stage]

    def _last_second(self, model: str, now: float | None) -> tuple[int, int, float, dict[str, float]] | None:
        """The model's summary of the last whole second before ``now`` (None if it has none)."""
        now = time.perf_counter() if now is None else now
        with self._lock:
            history = self._models.get(model)
            return history.last_second(int(now) - 1) if history else None

    def series(self, model: str, now: float | None = None) -> ModelSeries | None:
        now = time.perf_counter() if now is None else now
        with self._lock:
            history = self._models.get(model)
            if history is None:
                return None
            done = list(history.done)
            this_second = int(now)
            # A second that is over but not yet rolled (no frame has arrived since) is still the open bucket.
            if history.current is not None and history.current.start < this_second:
                done.append(history.current.summary())
            first_second = history.first_second
            recent = list(history.recent)
        # Slot i holds the whole second that ended i+1 seconds ago; the running second is left out.
        starts = np.arange(this_second - self.window_s, this_second)
        by_start = {row[0]: row for row in done}
        fps = np.full(len(starts), np.nan)
        lat = np.full(len(starts), np.nan)
        stages = {k: np.full(len(starts), np.nan) for k in StageTimings.STAGES}
        for i, start in enumerate(starts):
            row = by_start.get(int(start))
            if row is not None:
                fps[i], lat[i] = row[1], row[2]
                for k, v in row[3].items():
                    stages[k][i] = v
            elif first_second is not None and start >= first_second:
                fps[i] = 0.0  # running but nothing finished in that second: a real stall
        current_fps, current_latency = self.current(model, now)
        return ModelSeries(
            seconds=(starts + 0.5) - now,
            fps=fps,
            latency_p50=lat,
            stage_medians=stages,
            recent_latencies=np.array(recent),
            current_fps=current_fps,
            current_latency_ms=current_latency,
        )
