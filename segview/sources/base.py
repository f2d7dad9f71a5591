"""The FrameSource interface every source implements."""

from __future__ import annotations

import abc
import time

import numpy as np

from segview.types import Frame


class FrameSource(abc.ABC):
    """Produces BGR frames. Not thread-safe: one thread (the pipeline's capture thread) reads it.

    ``is_live`` sources (cameras, phones) produce frames in real time whether
    or not anyone reads them, so the pipeline keeps only the newest. Others
    (files, folders) wait for the reader, so nothing need be dropped.
    """

    name: str = "source"
    is_live: bool = False
    nominal_fps: float | None = None

    def __init__(self) -> None:
        self._index = 0

    @abc.abstractmethod
    def open(self) -> None:
        """Acquire the device or file; raises SourceError with a readable reason."""

    @abc.abstractmethod
    def _read_image(self) -> np.ndarray | None:
        """The next BGR image, or None at the end of the source."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the device or file. Safe to call twice."""

    def warnings(self) -> list[str]:
        """What the source passed over without failing (unreadable images), each one line; read after a run."""
        return []

    # Sources that play recordings at their own rate set this; waiting is not capture time.
    pacer: Pacer | None = None

    def read(self) -> Frame | None:
        """The next frame with its capture time, or None when the source has ended."""
        if self.pacer is not None:
            self.pacer.wait()
        start = time.perf_counter()
        image = self._read_image()
        done = time.perf_counter()
        if image is None:
            return None
        frame = Frame(index=self._index, image=image, captured_at=done, capture_ms=(done - start) * 1e3, source_name=self.name)
        self._index += 1
        return frame

    def __enter__(self) -> FrameSource:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Pacer:
    """Spaces calls ``1/fps`` seconds apart, so a file plays at its own rate; catches up after a stall without bursting."""

    def __init__(self, fps: float | None) -> None:
        self.fps = fps
        self._next_due = 0.0

    def wait(self) -> None:
        if not self.fps:
            return
        now = time.perf_counter()
        if self._next_due > now:
            time.sleep(self._next_due - now)
        self._next_due = max(now, self._next_due) + 1.0 / self.fps
