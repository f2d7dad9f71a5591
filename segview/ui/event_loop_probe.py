"""EventLoopProbe: how late the GUI thread's timers fire, the delay a click or repaint would suffer."""

from __future__ import annotations

import collections
import time

import numpy as np
from PySide6.QtCore import QElapsedTimer, QObject, Qt, QTimer

LAG_PROBE_MS = 20


class EventLoopProbe:
    """Measures how late a 20 ms timer fires: the delay a click or repaint would suffer."""

    def __init__(self, parent: QObject, window_s: float = 60.0) -> None:
        self.delays_ms: collections.deque[tuple[float, float]] = collections.deque()
        self.window_s = window_s
        self._clock = QElapsedTimer()
        # Owned by ``parent`` (the window), so it stops and is deleted with it, on the GUI thread. A
        # timer of its own would live on in the Python object until the garbage collector freed it, on
        # whichever thread happened to run the collection: Qt cannot unregister a timer from another
        # thread, and the next tick then fired into freed memory (a segfault in a later test).
        self._timer = QTimer(parent)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._on_tick)

    def start(self) -> None:
        self._clock.start()
        self._timer.start(LAG_PROBE_MS)

    def _on_tick(self) -> None:
        elapsed = self._clock.restart()
        now = time.perf_counter()
        self.delays_ms.append((now, max(0.0, elapsed - LAG_PROBE_MS)))
        while self.delays_ms and self.delays_ms[0][0] < now - self.window_s:
            self.delays_ms.popleft()

    def reset(self) -> None:
        self.delays_ms.clear()

    def series(self) -> tuple[np.ndarray, np.ndarray]:
        now = time.perf_counter()
        return np.array([t - now for t, _ in self.delays_ms]), np.array([d for _, d in self.delays_ms])

    def all_delays(self) -> np.ndarray:
        return np.array([d for _, d in self.delays_ms])
