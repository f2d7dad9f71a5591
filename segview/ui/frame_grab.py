"""Taking the raw images of the studio's next few frames, as a pipeline consumer (Profile view, Compress wizard)."""

from __future__ import annotations

import threading

import numpy as np


class FrameGrab:
    """A pipeline consumer that keeps the raw images of the next ``count`` frames, then leaves."""

    def __init__(self, engine, count: int) -> None:
        self.engine = engine
        self.count = count
        self.frames: list[np.ndarray] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        self.engine.add_consumer(self)

    def __call__(self, bundle) -> None:  # consumer thread
        with self._lock:
            if len(self.frames) < self.count:
                self.frames.append(bundle.frame.image)
            if len(self.frames) >= self.count:
                self.engine.remove_consumer(self)  # safe here: the consumer thread iterates a snapshot
                self._full()

    def _full(self) -> None:
        """Called on the consumer thread, under the lock, each time a frame arrives once all are in."""

    def stop(self) -> list[np.ndarray]:
        self.engine.remove_consumer(self)
        with self._lock:
            return list(self.frames)

    @property
    def done(self) -> bool:
        with self._lock:
            return len(self.frames) >= self.count
