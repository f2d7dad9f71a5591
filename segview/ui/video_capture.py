"""Recording the studio's video tiles to MP4 ("Record video"), beside, not instead of, the profiling recording.

The engine's consumer thread hands each composed picture to a VideoWriter's
bounded queue (never waiting: when the encoder falls behind, pictures are
dropped and counted); putting the tiles together and encoding happen on the
writer's thread. The GUI thread only starts and stops; the finished file is
announced by ``finished`` on the GUI thread.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from segview.recording.video_writer import VideoResult, VideoWriter
from segview.ui.engine import StudioEngine
from segview.ui.screenshot import composited_picture, timestamped

# On window close the last frames are flushed before the window goes: a few seconds at most.
CLOSE_TIMEOUT_S = 15.0


class VideoCapture(QObject):
    finished = Signal(object)  # VideoResult

    def __init__(self, engine: StudioEngine, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.writer: VideoWriter | None = None
        self._last: VideoWriter | None = None  # the latest writer, still flushing after stop()

    @property
    def recording(self) -> bool:
        return self.writer is not None

    def start(self, folder: Path) -> Path:
        """Start recording into a new file in ``folder``; raises SegviewError (nothing started) if it cannot be written."""
        writer = VideoWriter(timestamped(Path(folder), ".mp4"), prepare=composited_picture, on_finished=self.finished.emit)
        writer.start()
        self.writer = writer
        self.engine.add_picture_tap(self._on_picture)
        return writer.path

    def stop(self) -> None:
        """Stop taking pictures; the writer flushes and renames on its thread, then ``finished`` follows."""
        writer, self.writer = self.writer, None
        if writer is not None:
            self.engine.remove_picture_tap(self._on_picture)
            writer.stop()
            self._last = writer

    def shutdown(self) -> VideoResult | None:
        """Stop and wait for the file to be complete (window close)."""
        self.stop()
        return self._last.wait(CLOSE_TIMEOUT_S) if self._last is not None else None

    def _on_picture(self, picture, t: float) -> None:
        # Consumer thread: hand over and return (the writer counts what it had to drop).
        writer = self.writer
        if writer is not None:
            writer.submit(picture, t)
