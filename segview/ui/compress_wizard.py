"""The compression wizard: model and steps, calibration data, targets, then the job with progress and a log.

GUI thread only. The job runs in a child process (:class:`segview.compress.job.CompressionJob`),
polled by a timer; cancelling it leaves no partial files. Each result is added to
the studio's registry at once, so the model picker lists it, and one click runs it
beside the original. The same :class:`Recipe` the command line runs is built here
and can be saved for ``segview compress --recipe``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from segview.compress.paths import default_output_dir
from segview.errors import SegviewError
from segview.inference.registry import ModelRegistry, default_search_dirs
from segview.ui import measure_hold
from segview.ui.compress_steps import ModelStepsPage, WizardPage
from segview.ui.frame_grab import FrameGrab
from segview.ui.palette import PROBLEM_STYLE
from segview.ui.speed_hint import Int8Note, SpeedHintLine

if TYPE_CHECKING:  # the job's modules load on the steps page's worker thread, not when the wizard opens
    from segview.compress.calibration import CalibrationSpec
    from segview.compress.job import CompressionJob, JobUpdate
    from segview.compress.recipe import Recipe
    from segview.compress.runner import RunResult

__all__ = ["CompressWizard", "ModelStepsPage", "WizardPage"]

POLL_MS = 100
# The registry's "name (2)": a second file with a taken card name, known by that name only in this process.
DISAMBIGUATED = re.compile(r" \(\d+\)$")
# Default latency rounds (MeasureOptions().rounds; not imported, to keep the wizard's import light).
DEFAULT_ROUNDS = 15


class DataPage(WizardPage):
    def __init__(self, capture_source=None) -> None:
        super().__init__()
        self.setTitle("Calibration and evaluation data")
        self.setSubTitle("Calibration frames: an image folder, a video, or frames captured now from the live source. "
                         "The last share of them is held out to measure the result on. Labelled images are optional.")
        self.capture_source = capture_source
        self.calib_edit = QLineEdit()
        self.calib_edit.setPlaceholderText("image folder, video file, or a source such as demo")
        self.calib_edit.textChanged.connect(lambda _: self.completeChanged.emit())
        folder_button = QPushButton("Folder…")
        video_button = QPushButton("Video…")
        folder_button.clicked.connect(self._browse_folder)
        video_button.clicked.connect(self._browse_video)
        self.capture_count = QSpinBox()
        self.capture_count.setRange(2, 1000)
        self.capture_count.setValue(60)
        self.capture_button = QPushButton("Capture from the live source")
        self.capture_button.clicked.connect(self.capture_live_frames)
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
        images_button = QPushButton("…")
        masks_button = QPushButton("…")
        images_button.clicked.connect(lambda: self._browse_into(self.eval_images, "Labelled images"))
        masks_button.clicked.connect(lambda: self._browse_into(self.eval_masks, "Masks"))
        form = QFormLayout(self)
        row = QHBoxLayout()
        row.addWidget(self.calib_edit, 1)
        row.addWidget(folder_button)
        row.addWidget(video_button)
        form.addRow("Calibration frames", row)
        capture = QHBoxLayout()
        capture.addWidget(self.capture_count)
        capture.addWidget(self.capture_button)
        capture.addWidget(self.capture_status, 1)
        form.addRow("", capture)
        form.addRow("At most", self.frames_spin)
        form.addRow("Held out", self.held_out_spin)
        for label, edit, button in (("Evaluation images", self.eval_images, images_button), ("Evaluation masks", self.eval_masks, masks_button)):
            line = QHBoxLayout()
            line.addWidget(edit, 1)
            line.addWidget(button)
            form.addRow(label, line)
        self._capture: FrameCapture | None = None
        self._capture_timer = QTimer(self)
        self._capture_timer.timeout.connect(self._check_capture)
        self.capture_button.setEnabled(capture_source is not None)

    def calibration(self) -> CalibrationSpec | None:
        from segview.compress.calibration import CalibrationSpec

        text = self.calib_edit.text().strip()
        if not text:
            return None
        return CalibrationSpec(text, max_frames=self.frames_spin.value(), held_out=round(self.held_out_spin.value(), 4))

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        wizard = self.wizard()
        needs = wizard is not None and any(wizard.steps_page.step(name).needs_calibration for name in wizard.steps_page.chosen_steps())
        return bool(self.calib_edit.text().strip()) or not needs

    def capture_live_frames(self) -> bool:
        """Collect frames from the studio's running source (consumer thread), then save them in a worker thread."""
        if self.capture_source is None or self._capture is not None:
            return False
        engine = self.capture_source()
        if engine is None or not engine.running:
            self.capture_status.setText("Play a source in the studio first.")
            return False
        folder = default_output_dir() / "calibration" / _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        self._capture = FrameCapture(engine, self.capture_count.value(), folder)
        self._capture.start()
        self.capture_status.setText("capturing…")
        self._capture_timer.start(POLL_MS)
        return True

    def _check_capture(self) -> None:
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
        self._capture_timer.stop()
        self._capture = None

    def _browse_folder(self) -> None:
        self._browse_into(self.calib_edit, "Calibration images")

    def _browse_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Calibration video", "", "Videos (*.mp4 *.mkv *.avi *.mov *.webm);;All files (*)")
        if path:
            self.calib_edit.setText(path)

    def _browse_into(self, edit: QLineEdit, title: str) -> None:
        path = QFileDialog.getExistingDirectory(self, title)
        if path:
            edit.setText(path)


class FrameCapture(FrameGrab):
    """Takes ``count`` frames from the studio's pipeline, then writes them as PNGs on its own thread.

    ``__call__`` runs on the pipeline's consumer thread and only copies a reference under a lock.
    """

    def __init__(self, engine, count: int, folder: Path) -> None:
        super().__init__(engine, count)
        self.folder = folder
        self.saved = False
        self.error: str | None = None
        self._writer: threading.Thread | None = None

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
            return
        self.saved = True


class TargetsPage(WizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Targets and output")
        self.setSubTitle("The accuracy searches (INT8 accuracy-aware, weight sharing, channel pruning) keep layers uncompressed "
                         "until the masks stay within this IoU drop of the source's.")
        self.iou_drop = QDoubleSpinBox()
        self.iou_drop.setDecimals(2)
        self.iou_drop.setRange(0.0, 100.0)
        self.iou_drop.setSuffix(" IoU points")
        self.iou_drop.setValue(1.0)
        self.out_edit = QLineEdit(str(default_output_dir()))
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("default: the model's name and the steps, e.g. selfie-general-int8 (-2 if that name is taken)")
        self.rounds = QSpinBox()
        self.rounds.setRange(1, 200)
        self.rounds.setValue(DEFAULT_ROUNDS)
        out_button = QPushButton("…")
        out_button.clicked.connect(self._browse_out)
        self.save_button = QPushButton("Save recipe…")
        form = QFormLayout(self)
        form.addRow("Largest IoU drop", self.iou_drop)
        row = QHBoxLayout()
        row.addWidget(self.out_edit, 1)
        row.addWidget(out_button)
        form.addRow("Output folder", row)
        form.addRow("Name", self.name_edit)
        form.addRow("Latency rounds", self.rounds)
        form.addRow("", self.save_button)

    def _browse_out(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Output folder", self.out_edit.text())
        if path:
            self.out_edit.setText(path)


class RunPage(WizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Compressing")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.cancel_button = QPushButton("Cancel job")
        self.compare_button = QPushButton("Run beside the original")
        self.compare_button.setEnabled(False)
        self.results = QTableWidget(0, 2)
        self.results.setHorizontalHeaderLabels(["", "value"])
        self.results.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.results.verticalHeader().setVisible(False)
        self.chart = QLabel()
        self.chart.setAlignment(Qt.AlignmentFlag.AlignCenter)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.compare_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        layout.addWidget(self.log, 1)
        layout.addWidget(self.results, 1)
        layout.addWidget(self.chart)
        self.finished_ok = False

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        self.wizard().start_job()

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return self.finished_ok

    def show_result(self, result: RunResult) -> None:
        r = result.report
        rows = [("model", r.name), ("file", f"{r.file_bytes / 1024:.1f} KiB ({r.size_ratio:.0%} of the source)"), ("zip", f"{r.zip_bytes / 1024:.1f} KiB ({r.zip_ratio:.0%} of the source file)")]
        for lat in r.latency:
            threads = "default threads" if lat.threads == 0 else f"{lat.threads} thread(s)"
            rows.append((f"latency, {threads}", f"{lat.result_ms:.3f} ms vs {lat.source_ms:.3f} ms: {lat.speedup:.2f}x"))
        besides = sorted({lat.beside for lat in r.latency if lat.beside})
        if besides:
            rows.append(("measured beside", "; ".join(besides)))
        if r.agreement_iou is not None:
            rows.append(("IoU vs source masks", f"{r.agreement_iou:.4f} ({r.agreement_frames} {r.agreement_on})"))
        if r.ground_truth is not None:
            gt = r.ground_truth
            rows.append(("IoU vs ground truth", f"{gt.iou:.4f} (source {gt.source_iou:.4f}, {-gt.drop_points:+.2f} points)"))
        self.results.setRowCount(len(rows))
        for i, (key, value) in enumerate(rows):
            self.results.setItem(i, 0, QTableWidgetItem(key))
            self.results.setItem(i, 1, QTableWidgetItem(value))
        pixmap = QPixmap(str(result.chart_path))
        if not pixmap.isNull():
            self.chart.setPixmap(pixmap.scaledToWidth(760, Qt.TransformationMode.SmoothTransformation))


class CompressWizard(QDialog):
    """Pages: model and steps, data, targets, run. Signals are past events: ``job_finished`` (RunResult),
    ``job_failed`` (message), ``job_cancelled``, ``result_registered`` (model name)."""

    job_finished = Signal(object)
    job_failed = Signal(str)
    job_cancelled = Signal()
    result_registered = Signal(str)

    def __init__(self, registry: ModelRegistry, *, window=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compress a model")
        self.resize(900, 680)
        self.registry = registry
        self.window_ref = window
        self.steps_page = ModelStepsPage(registry)
        # Said before a run: int8 makes the model smaller, not faster, here (at once), then the profile's line for each step.
        self.int8_note = Int8Note(self.steps_page)
        self.speed_hint = SpeedHintLine(self.steps_page, getattr(window, "engine", None), window)
        self.data_page = DataPage(capture_source=(lambda: window.engine) if window is not None else None)
        self.targets_page = TargetsPage()
        self.run_page = RunPage()
        self.pages: list[WizardPage] = [self.steps_page, self.data_page, self.targets_page, self.run_page]
        self.title_label = QLabel()
        self.subtitle_label = QLabel()
        self.subtitle_label.setWordWrap(True)
        self.stack = QStackedWidget()
        for page in self.pages:
            page._wizard = self
            page.completeChanged.connect(self._update_buttons)
            self.stack.addWidget(page)
        self.back_button = QPushButton("< Back")
        self.next_button = QPushButton("Next >")
        self.close_button = QPushButton("Close")
        self.back_button.clicked.connect(self.back)
        self.next_button.clicked.connect(self.next)
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for b in (self.back_button, self.next_button, self.close_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title_label)
        layout.addWidget(self.subtitle_label)
        layout.addWidget(self.stack, 1)
        layout.addLayout(buttons)
        self.targets_page.save_button.clicked.connect(self._on_save_recipe)
        self.run_page.cancel_button.clicked.connect(self.cancel_job)
        self.run_page.compare_button.clicked.connect(self.compare_with_original)
        self.job: CompressionJob | None = None
        self.result: RunResult | None = None
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._on_poll)
        if window is not None:
            names = [e.name for e in window.engine.models]
            if names:
                self.steps_page.set_model(names[0])
        self.refresh_header()
        self._update_buttons()

    # -- navigation --------------------------------------------------------------

    def currentPage(self) -> WizardPage:  # noqa: N802 - QWizard's name
        return self.pages[self.stack.currentIndex()]

    def next(self) -> bool:
        """Move on if the page allows it; from the targets page this starts the job (no way back then)."""
        page = self.currentPage()
        if page is self.run_page or not page.isComplete() or not self.validateCurrentPage():
            return False
        self.stack.setCurrentIndex(self.stack.currentIndex() + 1)
        self.refresh_header()
        self._update_buttons()
        self.currentPage().initializePage()
        return True

    def back(self) -> bool:
        """One page back; from the run page too once the job has ended (failed, cancelled or done): every field is kept."""
        if self.currentPage() is self.steps_page or self.running:
            return False
        self.stack.setCurrentIndex(self.stack.currentIndex() - 1)
        self.refresh_header()
        self._update_buttons()
        return True

    def refresh_header(self) -> None:
        page = self.currentPage()
        self.title_label.setText(f"<h3>{page.title()}</h3>")
        self.subtitle_label.setText(page.subTitle())

    def _update_buttons(self) -> None:
        page = self.currentPage()
        self.back_button.setEnabled(page is not self.steps_page and not self.running)
        self.next_button.setVisible(page is not self.run_page)
        self.next_button.setText("Compress" if page is self.targets_page else "Next >")
        self.next_button.setEnabled(page.isComplete())

    # -- building the recipe ---------------------------------------------------

    def recipe(self) -> Recipe:
        """The job the pages describe; raises SegviewError with what is wrong."""
        from segview.compress.measure import MeasureOptions
        from segview.compress.recipe import Recipe, StepSpec
        from segview.compress.step import config_from_dict

        model = self.steps_page.model_combo.currentData()
        if not model:
            raise SegviewError("pick a model to compress")
        names = self.steps_page.chosen_steps()
        if not names:
            raise SegviewError("tick at least one step")
        target = self.targets_page.iou_drop.value() / 100.0
        steps = []
        for name in names:
            step = self.steps_page.step(name)
            values = self.steps_page.step_values(name)
            if step.takes_iou_target:
                values["max_iou_drop"] = target
            steps.append(StepSpec(name, config_from_dict(step, values)))
        images = self.data_page.eval_images.text().strip() or None
        masks = self.data_page.eval_masks.text().strip() or None
        recipe = Recipe(
            model=self._reference(model),
            steps=tuple(steps),
            calibration=self.data_page.calibration(),
            eval_images=images,
            eval_masks=masks,
            out=self.targets_page.out_edit.text().strip() or None,
            name=self.targets_page.name_edit.text().strip() or None,
            measure=dataclasses.replace(MeasureOptions(), rounds=self.targets_page.rounds.value()),
        )
        recipe.validate()
        return recipe

    def _reference(self, name: str) -> str:
        """The model as the job's own process will find it: its name if the default registry knows it there, else its path."""
        entry = self.registry.resolve(name)
        # The studio's registry searches the child's folders in the same order, so a name from them means the same
        # file there; a file added by path, or a "name (2)", travels as its path.
        searched = {d.expanduser().resolve() for d in default_search_dirs()}
        if entry.path.parent in searched and not DISAMBIGUATED.search(name):
            return name
        return str(entry.path)

    def save_recipe(self, path: Path) -> bool:
        try:
            self.recipe().save(path)
        except SegviewError as exc:
            self.run_page.status.setText(str(exc))
            self.targets_page.setSubTitle(f"Not saved: {exc}")
            return False
        self.targets_page.setSubTitle(f"Recipe saved to {path}; run it again with: segview compress --recipe {path}")
        return True

    def validateCurrentPage(self) -> bool:  # noqa: N802 - QWizard's name
        if self.currentPage() is self.targets_page:
            try:
                # As the job will see it: the chain against the model's weights, and a result name that is free.
                self.recipe().settled(self.registry)
            except SegviewError as exc:
                self.targets_page.setSubTitle(f"<span style='{PROBLEM_STYLE}'>{exc}</span>")
                return False
        return True

    # -- the job -----------------------------------------------------------------

    def start_job(self) -> bool:
        page = self.run_page
        page.finished_ok = False
        page.log.clear()
        page.results.setRowCount(0)
        page.chart.clear()
        page.compare_button.setEnabled(False)
        from segview.compress.job import CompressionJob

        try:
            recipe = self.recipe()
            self.job = CompressionJob(recipe, on_measuring=self._on_measuring)
            self.job.start()
        except SegviewError as exc:
            self._fail(str(exc))
            return False
        page.cancel_button.setEnabled(True)
        self._update_buttons()
        page.status.setText(f"Compressing {recipe.model}: {' + '.join(s.name for s in recipe.steps)}")
        self._timer.start(POLL_MS)
        return True

    def cancel_job(self) -> None:
        if self.job is not None and self.job.running:
            self.job.cancel()
            self.run_page.status.setText("Cancelling…")

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    def _on_poll(self) -> None:
        if self.job is None:
            return
        for update in self.job.poll():
            self._apply(update)

    def _apply(self, update: JobUpdate) -> None:
        page = self.run_page
        if update.kind == "progress":
            page.progress.setValue(int(update.fraction * 1000))
            page.status.setText(update.message)
        elif update.kind in ("log", "measuring"):
            page.log.appendPlainText(update.message)
        elif update.kind == "finished" and update.result is not None:
            self._finish(update.result)
        elif update.kind == "failed":
            self._fail(update.message)
        elif update.kind == "cancelled":
            self._timer.stop()
            page.cancel_button.setEnabled(False)
            page.status.setText("Cancelled: nothing was written.")
            page.log.appendPlainText(update.message)
            self._update_buttons()
            self.job_cancelled.emit()

    def _finish(self, result: RunResult) -> None:
        self._timer.stop()
        page = self.run_page
        self.result = result
        page.progress.setValue(1000)
        page.cancel_button.setEnabled(False)
        try:
            entry = self.registry.add_file(result.model_path)
            page.status.setText(f"Done: {entry.name} is in the model picker ({result.model_path}).")
            self.result_registered.emit(entry.name)
            if self.window_ref is not None:
                self.window_ref.refresh_models()
            page.compare_button.setEnabled(self.window_ref is not None)
        except SegviewError as exc:
            page.status.setText(f"Written to {result.model_path}, but it cannot be listed: {exc}")
        page.show_result(result)
        for line in result.report.summary_lines():
            page.log.appendPlainText(line)
        page.finished_ok = True
        page.completeChanged.emit()
        self._update_buttons()
        self.job_finished.emit(result)

    def _fail(self, message: str) -> None:
        self._timer.stop()
        page = self.run_page
        page.cancel_button.setEnabled(False)
        page.status.setText(f"<span style='{PROBLEM_STYLE}'>Failed: {message}</span>")
        page.log.appendPlainText(f"failed: {message}")
        if self.job is not None and self.job.traceback:
            page.log.appendPlainText(self.job.traceback)
        self._update_buttons()  # Back is open again: the fields are as they were, to fix and run again
        self.job_failed.emit(message)

    def compare_with_original(self) -> bool:
        """Run the result beside its source in the studio."""
        if self.result is None or self.window_ref is None:
            return False
        source = self.result.report.source_name
        entry = self.registry.add_file(self.result.model_path)
        return bool(self.window_ref.choose_models([source, entry.name]))

    def _on_save_recipe(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save recipe", str(default_output_dir() / "recipe.json"), "Recipes (*.json)")
        if path:
            self.save_recipe(Path(path))

    def reject(self) -> None:
        # Closing the wizard while a job runs stops it; the job removes its partial files.
        self.stop_job()
        super().reject()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.stop_job()
        super().closeEvent(event)

    def _on_measuring(self, measuring: bool) -> str:
        """The job is about to time the models (True) or is done (False): pause the studio's models meanwhile."""
        engine = getattr(self.window_ref, "engine", None)
        if engine is None:
            return "nothing from a studio (no studio window)"
        if measuring:
            return measure_hold.hold(engine, self.window_ref)
        measure_hold.release(engine, self.window_ref)
        return ""

    def reopen(self) -> None:
        """Shown again after it was closed: back on the first page with every field as it was left."""
        if self.running:
            return
        self.stack.setCurrentIndex(0)
        self.steps_page.refresh_models()
        self.refresh_header()
        self._update_buttons()

    def stop_job(self) -> None:
        if self.job is not None and self.job.running:
            self._timer.stop()
            self.job.close()
