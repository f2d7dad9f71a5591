"""Screenshots of the studio's video tiles: the composed frames at full resolution, saved as PNG.

Not a grab of the window: the picture is put together from the pictures the
engine composed (segview.render.mosaic), so it has the frames' resolution
whatever size the window is. PNG encoding and the write (atomic, see
segview.fileio) run on a worker (segview.ui.background); the result comes back
as a signal on the GUI thread.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QObject, Signal

from segview.errors import SegviewError
from segview.fileio import atomic_write_bytes
from segview.render.mosaic import mosaic
from segview.ui.background import Worker
from segview.ui.engine import RenderedFrame


def captures_dir(kind: str) -> Path:
    """~/segview-sessions/screenshots or .../videos: beside the recorded sessions (read at call time,
    so a changed HOME is followed)."""
    return Path.home() / "segview-sessions" / kind


def composited_picture(frame: RenderedFrame) -> np.ndarray:
    """The tiles as the window shows them (each view, then the comparison), one BGR image."""
    tiles = [(view.model, view.image) for view in frame.views]
    if frame.comparison is not None and frame.pair is not None:
        tiles.append((f"{frame.pair[0]} vs {frame.pair[1]}", frame.comparison))
    return mosaic(tiles)


def timestamped(folder: Path, suffix: str) -> Path:
    """segview-20261201-094512-123.png: sorts by time, never collides within a millisecond."""
    now = time.time()
    return folder / f"segview-{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}-{int(now * 1000) % 1000:03d}{suffix}"


def save_png(image: np.ndarray, folder: Path) -> Path:
    """Write ``image`` as PNG into ``folder`` (created if missing); raises SegviewError, leaving nothing behind."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SegviewError(f"cannot save screenshot: cannot create {folder} ({exc.strerror or exc})") from None
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise SegviewError("cannot save screenshot: PNG encoding failed")
    path = timestamped(folder, ".png")
    atomic_write_bytes(path, data.tobytes())
    return path


class ScreenshotTaker(QObject):
    """take(frame, folder) returns at once; ``saved(path)`` or ``failed(message)`` follows on the GUI thread."""

    saved = Signal(object)
    failed = Signal(str)

    def take(self, frame: RenderedFrame, folder: Path) -> None:
        worker = Worker(lambda _worker: _save(frame, Path(folder)))
        worker.finished.connect(self.saved.emit)
        worker.failed.connect(self.failed.emit)
        worker.start()


def _save(frame: RenderedFrame, folder: Path) -> Path:
    try:
        return save_png(composited_picture(frame), folder)
    except SegviewError:
        raise
    except Exception as exc:  # the window says what happened, in the screenshot's words
        raise SegviewError(f"cannot save screenshot: {exc}") from exc
