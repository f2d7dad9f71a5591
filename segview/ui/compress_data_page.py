"""The Compress wizard's second page: calibration frames (a folder, a video, or captured from the live source now) and labelled images.

Frames captured from the live source arrive on the pipeline's consumer thread and are saved on a writer
thread; each step comes to the page as the ``capture_changed`` signal (queued to the GUI thread), which
shows the count and, once saved, the folder.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox

from segview.compress.paths import default_output_dir
from segview.ui.frame_capture import FrameCapture
from segview.ui.wizard_page import WizardPage

if TYPE_CHECKING:
    from segview.compress.calibration import CalibrationSpec


class DataPage(WizardPage):
    """``engine``: the studio's (frames are captured from it while it plays), or None; ``needs_frames``: whether a ticked step needs them."""

    capture_changed = Signal()  # a captured frame was kept, or the frames were saved (or not): emitted from other threads

    def __init__(self, engine=None, needs_frames: Callable[[], bool] = lambda: False) -> None:
        super().__init__()
        self.setTitle("Calibration and evaluation data")
        self.setSubTitle(
            "Calibration frames: an image folder, a video, or frames captured now from the live source. "
            "The last share of them is held out to measure the result on. Labelled images are optional."
        )
        self.engine = engine
        self.needs_frames = needs_frames
        self.calib_edit = QLineEdit()
        self.calib_edit.setPlaceholderText("image folder, video file, or a source such as demo")
        self.calib_edit.textChanged.connect(lambda _: self.completeChanged.emit())
        self.capture_count = QSpinBox()
        self.capture_count.setRange(2, 1000)
        self.capture_count.setValue(60)
        self.capture_button = QPushButton("Capture from the live source")
        self.capture_button.clicked.connect(self.capture_live_frames)
        self.capture_button.setEnabled(engine is not None)
        self.capture_status = QLabel("")
        self.frames_spin = QSpinBox()
        self.frames_spin.setRange(1, 10_000)
        self.frames_spin.setValue(100)
        self.held_out_spin = QDoubleSpinBox()
        self.held_out_spin.setRange(0.0, 0.9)
        self.held_out_spin.setSingleStep(0.05)
        self.held_out_spin.setValue(0.3)
        self.eval_images = QLineEdit()
        self.eval_masks = QLineEdit()
        self.eval_images.setPlaceholderText("optional: labelled images")
        self.eval_masks.setPlaceholderText("optional: 0/255 masks with the same file names")
        self._lay_out()
        self._capture: FrameCapture | None = None
        self.capture_changed.connect(self._show_capture)

    def _lay_out(self) -> None:
        folder_button = QPushButton("Folder…")
        video_button = QPushButton("Video…")
        folder_button.clicked.connect(lambda: self._browse_into(self.calib_edit, "Calibration images"))
        video_button.clicked.connect(self._browse_video)
        form = QFormLayout(self)
        form.addRow("Calibration frames", _row(self.calib_edit, folder_button, video_button))
        form.addRow("", _row(self.capture_count, self.capture_button, self.capture_status, stretch=2))
        form.addRow("At most", self.frames_spin)
        form.addRow("Held out", self.held_out_spin)
        for label, edit, title in (("Evaluation images", self.eval_images, "Labelled images"), ("Evaluation masks", self.eval_masks, "Masks")):
            button = QPushButton("…")
            button.clicked.connect(lambda _=False, edit=edit, title=title: self._browse_into(edit, title))
            form.addRow(label, _row(edit, button))

    def calibration(self) -> CalibrationSpec | None:
        from segview.compress.calibration import CalibrationSpec

        text = self.calib_edit.text().strip()
        if not text:
            return None
        return CalibrationSpec(text, max_frames=self.frames_spin.value(), held_out=round(self.held_out_spin.value(), 4))

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return bool(self.calib_edit.text().strip()) or not self.needs_frames()

    def capture_live_frames(self) -> bool:
        """Collect frames from the studio's running source (consumer thread), then save them in a worker thread."""
        if self.engine is None or self._capture is not None:
            return False
        if not self.engine.running:
            self.capture_status.setText("Play a source in the studio first.")
            return False
        folder = default_output_dir() / "calibration" / _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        self._capture = FrameCapture(self.engine, self.capture_count.value(), folder, on_change=self._capture_changed)
        self.capture_status.setText("capturing…")
        self._capture.start()
        return True

    def _capture_changed(self) -> None:  # consumer or writer thread
        # RuntimeError: the page was deleted meanwhile; the pipeline's thread must not hear of it.
        with contextlib.suppress(RuntimeError):
            self.capture_changed.emit()

    def _show_capture(self) -> None:  # GUI thread
        capture = self._capture
        if capture is None:
            return
        if capture.error:
            self.capture_status.setText(capture.error)
        elif capture.saved:
            self.calib_edit.setText(str(capture.folder))
            self.capture_status.setText(f"{capture.count} frames saved in {capture.folder}")
        else:
            self.capture_status.setText(f"capturing… {len(capture.frames)}/{capture.count}")
            return
        self._capture = None

    def _browse_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Calibration video", "", "Videos (*.mp4 *.mkv *.avi *.mov *.webm);;All files (*)")
        if path:
            self.calib_edit.setText(path)

    def _browse_into(self, edit: QLineEdit, title: str) -> None:
        path = QFileDialog.getExistingDirectory(self, title)
        if path:
            edit.setText(path)


def _row(first, *rest, stretch: int = 0) -> QHBoxLayout:
    """``first`` takes the spare width (or the widget at index ``stretch`` does)."""
    row = QHBoxLayout()
    for i, widget in enumerate((first, *rest)):
        row.addWidget(widget, 1 if i == stretch else 0)
    return row
