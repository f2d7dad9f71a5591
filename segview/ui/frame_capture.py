"""Frames from the studio's live source, saved as a calibration folder (the Compress wizard's "Capture" button).

Qt-free: a :class:`FrameGrab` consumer plus a writer thread; ``on_change`` is
called (on those threads) after each frame kept and once the frames are saved or
failed, and the wizard turns it into a signal. It sits in ``ui`` only because
:class:`FrameGrab` does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import cv2

from segview.ui.frame_grab import FrameGrab


class FrameCapture(FrameGrab):
    """Takes ``count`` frames from the studio's pipeline, then writes them as PNGs on its own thread.

    ``__call__`` runs on the pipeline's consumer thread and only copies a reference under a lock;
    ``on_change()`` follows it (and the saving), on that thread, so it must only hand the news on.
    """

    def __init__(self, engine, count: int, folder: Path, on_change: Callable[[], None] = lambda: None) -> None:
        super().__init__(engine, count)
        self.folder = folder
        self.on_change = on_change
        self.saved = False
        self.error: str | None = None
        self._writer: threading.Thread | None = None

    def __call__(self, bundle) -> None:  # consumer thread
        kept = len(self.frames)
        super().__call__(bundle)
        if len(self.frames) != kept:  # not a frame that arrived after the last one
            self.on_change()

    def _full(self) -> None:
        if self._writer is None:
            self._writer = threading.Thread(target=self._save, name="segview-capture", daemon=True)
            self._writer.start()

    def _save(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for i, image in enumerate(self.frames):
                if not cv2.imwrite(str(self.folder / f"{i:05d}.png"), image):
                    raise OSError(f"cannot write {self.folder / f'{i:05d}.png'}")
        except OSError as exc:
            self.error = f"cannot save the captured frames: {exc}"
        else:
            self.saved = True
        self.on_change()
