"""The studio's demo actions: Screenshot, Record video, Full screen, and drag and drop onto the window.

Built by the window into its toolbar; each action reports what it did in the
status bar and every failure (an unwritable folder, a full disk, a bad drop)
in the window's problem label, and the studio keeps running.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QToolBar

from segview.errors import SegviewError
from segview.recording.video_writer import VideoResult
from segview.ui.actions import make_action
from segview.ui.drop_handler import DropHandler
from segview.ui.screenshot import ScreenshotTaker, captures_dir
from segview.ui.video_capture import VideoCapture

SCREENSHOT_KEYS = ("Ctrl+Shift+S", "F12")
RECORD_VIDEO_KEY = "Ctrl+Shift+R"
FULL_SCREEN_KEY = "F11"
MESSAGE_MS = 10_000


class DemoActions(QObject):
    def __init__(self, window, bar: QToolBar) -> None:
        super().__init__(window)
        self.window = window
        # Where captures go; tests point these elsewhere.
        self.screenshots_dir: Path = captures_dir("screenshots")
        self.videos_dir: Path = captures_dir("videos")
        self.last_screenshot: Path | None = None
        self.last_video: VideoResult | None = None
        self._was_maximized = False
        self.screenshots = ScreenshotTaker(self)
        self.screenshots.saved.connect(self._on_screenshot_saved)
        self.screenshots.failed.connect(window.show_problem)
        self.video = VideoCapture(window.engine, self)
        self.video.finished.connect(self._on_video_finished)
        self.drops = DropHandler(window, open_source=self._open_dropped_source, open_model=window.open_model_file, show_problem=window.show_problem)
        self._build(bar)

    def _build(self, bar: QToolBar) -> None:
        w = self.window
        self.screenshot_action = make_action(
            w,
            "Screenshot",
            self.take_screenshot,
            shortcut=SCREENSHOT_KEYS,
            tip=f"Save the video tiles as PNG, at the frames' full resolution (the composed pictures, not a grab of the window), "
            f"into {self.screenshots_dir} ({' or '.join(SCREENSHOT_KEYS)})",
        )
        self.record_video_action = make_action(
            w,
            "Record video",
            toggled=self._on_record_video_toggled,
            shortcut=RECORD_VIDEO_KEY,
            tip=f"Start / stop recording the video tiles to MP4 (H.264) into {self.videos_dir}, at the rate they are composed "
            f"({RECORD_VIDEO_KEY}; the profiling recording is Ctrl+R)",
        )
        self.full_screen_action = make_action(
            w, "Full screen", toggled=self.set_full_screen, shortcut=FULL_SCREEN_KEY, tip=f"Full screen ({FULL_SCREEN_KEY}; Esc leaves it)"
        )
        # Esc is taken only while in full screen, so it still closes popups and dialogs otherwise.
        self.leave_full_screen_action = make_action(w, "Leave full screen", lambda: self.full_screen_action.setChecked(False), shortcut=Qt.Key.Key_Escape)
        self.leave_full_screen_action.setEnabled(False)
        w.addAction(self.leave_full_screen_action)
        bar.addSeparator()
        for action in (self.screenshot_action, self.record_video_action, self.full_screen_action):
            bar.addAction(action)

    # -- screenshot -------------------------------------------------------------

    def take_screenshot(self) -> bool:
        """Starts saving the latest composed picture; False (and the reason shown) if there is none yet."""
        frame = self.window.engine.latest_picture()
        if frame is None or not frame.views:
            self.window.show_problem("nothing to capture yet: pick a source and tick a model")
            return False
        self.screenshots.take(frame, self.screenshots_dir)
        return True

    def _on_screenshot_saved(self, path: Path) -> None:
        self.last_screenshot = path
        self.window.statusBar().showMessage(f"Screenshot saved: {path}", MESSAGE_MS)

    # -- video ------------------------------------------------------------------

    def _on_record_video_toggled(self, on: bool) -> None:
        if on and not self.video.recording:
            try:
                path = self.video.start(self.videos_dir)
            except SegviewError as exc:
                self.window.show_problem(str(exc))
                self._set_checked(self.record_video_action, False)
                return
            self.window.statusBar().showMessage(f"Recording video into {path}", MESSAGE_MS)
        elif not on and self.video.recording:
            self.video.stop()
            self.window.statusBar().showMessage("Finishing the video…", MESSAGE_MS)

    def _on_video_finished(self, result: VideoResult) -> None:
        self.last_video = result
        # A writer that failed on its own (a full disk) leaves the button pressed: release it.
        if self.video.recording and self.video.writer is not None and self.video.writer.finished:
            self.video.stop()
        self._set_checked(self.record_video_action, self.video.recording)
        if result.problem:
            self.window.show_problem(result.problem)
            return
        dropped = f", {result.dropped} dropped (encoder behind)" if result.dropped else ""
        note = f"; {result.note}" if result.note else ""
        self.window.statusBar().showMessage(
            f"Video saved: {result.path} ({result.frames} frames, {result.seconds:.1f} s, {result.codec}{dropped}){note}", MESSAGE_MS
        )

    # -- full screen ------------------------------------------------------------

    def set_full_screen(self, on: bool) -> None:
        w = self.window
        if on and not w.isFullScreen():
            self._was_maximized = w.isMaximized()
            w.showFullScreen()
        elif not on and w.isFullScreen():
            w.showMaximized() if self._was_maximized else w.showNormal()
        self._set_checked(self.full_screen_action, on)
        self.leave_full_screen_action.setEnabled(on)

    # -- drops ------------------------------------------------------------------

    def _open_dropped_source(self, name: str) -> bool:
        ok = self.window.choose_source(name)
        if ok:
            self.window.statusBar().showMessage(f"Source: {name}", MESSAGE_MS)
        return ok

    # -- lifetime ---------------------------------------------------------------

    def shutdown(self) -> None:
        """Window close: a video being recorded is flushed and renamed before the window goes."""
        result = self.video.shutdown()
        if result is not None:
            self.last_video = result

    @staticmethod
    def _set_checked(action: QAction, on: bool) -> None:
        action.blockSignals(True)
        action.setChecked(on)
        action.blockSignals(False)
