"""MetricsHub: samples every sampler on its own thread and keeps a rolling window per metric.

Timestamps are ``time.perf_counter()`` seconds, the clock the pipeline stamps
frames with, so a sample lines up with the frames finished around it.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from segview.metrics.sampler_base import Sampler


@dataclass(frozen=True, slots=True)
class MetricsSample:
    """Every sampler's reading at one moment; None where a sampler had nothing to say."""

    t: float
    values: dict[str, float | None]


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """The rolling window of one metric: ``values`` holds NaN where there was no reading."""

    key: str
    label: str
    unit: str
    available: bool
    unavailable_reason: str
    t: np.ndarray
    values: np.ndarray

    @property
    def latest(self) -> float | None:
        if len(self.values) == 0 or math.isnan(self.values[-1]):
            return None
        return float(self.values[-1])


Subscriber = Callable[[MetricsSample], None]


class MetricsHub:
    """Owns the samplers; ``start()`` once, ``stop()`` once (it joins the thread and closes the samplers).

    Subscribers are called on the hub's thread after each sample and must be
    quick; one that raises is reported in ``problem`` and does not stop the
    others or the sampling.
    """

    def __init__(self, samplers: Sequence[Sampler], *, interval_s: float = 1.0, window_s: float = 60.0) -> None:
        if interval_s <= 0 or window_s <= 0:
            raise ValueError("interval_s and window_s must be positive")
        keys = [s.key for s in samplers]
        if len(set(keys)) != len(keys):
            raise ValueError(f"two samplers share a key: {keys}")
        self.samplers = list(samplers)
        self.interval_s = interval_s
        self.window_s = window_s
        self.problem: str | None = None
        self._lock = threading.Lock()
        self._t: deque[float] = deque()
        self._values: dict[str, deque[float]] = {s.key: deque() for s in self.samplers}
        self._latest: MetricsSample | None = None
        self._subscribers: list[Subscriber] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- any thread -----------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> None:
        with self._lock:
            self._subscribers.append(callback)

    def unsubscribe(self, callback: Subscriber) -> None:
        with self._lock:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("a MetricsHub is started once")
        self._thread = threading.Thread(target=self._loop, name="segview-metrics", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop sampling and wait for the thread (a read in progress finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for sampler in self.samplers:
            sampler.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def latest(self) -> MetricsSample | None:
        with self._lock:
            return self._latest

    def snapshot(self) -> dict[str, MetricSeries]:
        """A copy of each metric's window, in sampler order (safe to use on any thread)."""
        with self._lock:
            t = np.array(self._t, dtype=np.float64)
            values = {key: np.array(v, dtype=np.float64) for key, v in self._values.items()}
        return {s.key: MetricSeries(s.key, s.label, s.unit, s.available, s.unavailable_reason, t, values[s.key]) for s in self.samplers}

    # -- hub thread -----------------------------------------------------------

    def _loop(self) -> None:
        # Ticks are scheduled from the start time, so a slow read does not push every later sample back.
        start = time.perf_counter()
        tick = 0
        while not self._stop.is_set():
            self.sample_now()
            tick += 1
            delay = start + tick * self.interval_s - time.perf_counter()
            if delay < 0:  # fell behind (a sampler blocked): skip the missed ticks
                tick += int(-delay // self.interval_s) + 1
                delay = start + tick * self.interval_s - time.perf_counter()
            if self._stop.wait(max(0.0, delay)):
                break

    def sample_now(self) -> MetricsSample:
        """Read every sampler once, store and publish the sample (hub thread; tests may call it directly)."""
        values: dict[str, float | None] = {}
        for sampler in self.samplers:
            try:
                value = sampler.read()
            except Exception as exc:  # a misbehaving driver file must not end sampling
                self.problem = f"{sampler.key}: {exc}"
                value = None
            # NaN or infinity from a sampler is no reading either.
            values[sampler.key] = float(value) if value is not None and math.isfinite(value) else None
        sample = MetricsSample(time.perf_counter(), values)
        with self._lock:
            self._t.append(sample.t)
            for key, value in values.items():
                self._values[key].append(math.nan if value is None else value)
            while self._t and self._t[0] < sample.t - self.window_s:
                self._t.popleft()
                for series in self._values.values():
                    series.popleft()
            self._latest = sample
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(sample)
            except Exception as exc:
                self.problem = f"a metrics subscriber failed: {exc}"
        return sample


def energy_per_frame_mj(power_w: float | None, fps: float | None) -> float | None:
    """Millijoules per frame at a steady power and frame rate; None without both."""
    if power_w is None or fps is None or math.isnan(power_w) or math.isnan(fps) or fps <= 0 or power_w < 0:
        return None
    return power_w / fps * 1000.0
