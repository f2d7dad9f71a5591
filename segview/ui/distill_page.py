"""The distillation page: teacher, student size, the pool (sources, composites, selection pool),
time budget; live loss and IoU plots; after the run, what the card records.

GUI thread only. The page gathers the form into a DistillConfig and shows the run; the run itself
is a child process and a worker waiting for it (:mod:`segview.ui.distill_child`), the student sizes
are :mod:`segview.ui.distill_presets`, the plots :mod:`segview.ui.distill_plots`, the pool's sources
:mod:`segview.ui.distill_sources`. Without PyTorch the page says how to install it and starts nothing.
A failed or cancelled run is reported on the page; the studio keeps running.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from segview.distill import availability
from segview.distill.config import DataConfig, DistillConfig, SelectConfig, TrainConfig
from segview.distill.runner import quality_warning
from segview.inference.registry import ModelRegistry
from segview.ui import measure_hold
from segview.ui.distill_child import child_run
from segview.ui.distill_plots import TrainingPlots
from segview.ui.distill_presets import DEFAULT_PRESET, PRESETS, StudentPreset
from segview.ui.distill_sources import PoolForm
from segview.ui.distill_summary import card_summary

PLOT_REFRESH_MS = 500


class DistillPage(QWidget):
    """Emits ``student_registered(path)`` when a student has been written; the window adds it to its registry."""

    student_registered = Signal(object)

    def __init__(self, registry: ModelRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self.job = None
        self._held_engine = None  # the studio's engine, paused while the run measures speed
        self.outcome = None
        self.losses: list[tuple[int, float]] = []
        self.ious: list[tuple[int, float]] = []
        self._process = None  # the DistillProcess the worker waits for

        layout = QVBoxLayout(self)
        self.install_label = QLabel(availability.install_hint())
        self.install_label.setWordWrap(True)
        self.install_label.setTextInteractionFlags(self.install_label.textInteractionFlags())
        layout.addWidget(self.install_label)
        layout.addLayout(self._build_form())
        self._build_run_controls(layout)
        self.canvas = TrainingPlots()
        layout.addWidget(self.canvas, 1)
        self._plot_timer = QTimer(self)
        self._plot_timer.timeout.connect(self._redraw)

        self.refresh_teachers()
        self.teacher_combo.currentIndexChanged.connect(lambda _: self._suggest_output())
        self.preset_combo.currentIndexChanged.connect(lambda _: self._suggest_output())
        self._suggest_output()
        self._apply_availability()

    def _build_form(self) -> QFormLayout:
        """What to distil: teacher, student, the pool, masks, budget, output, batch size."""
        form = QFormLayout()
        self.teacher_combo = QComboBox()
        self.preset_combo = QComboBox()
        for preset in PRESETS:
            self.preset_combo.addItem(preset.label, preset)
        self.preset_combo.setCurrentIndex(DEFAULT_PRESET)
        self.pool = PoolForm()
        self.masks_edit = QLineEdit()
        self.masks_edit.setPlaceholderText("optional: 0/255 masks named like the first folder's images")
        browse_masks = QPushButton("Browse…")
        browse_masks.clicked.connect(lambda: self._browse_folder(self.masks_edit, "Masks"))
        self.minutes_spin = QDoubleSpinBox()
        self.minutes_spin.setMaximumWidth(140)
        self.minutes_spin.setRange(0.1, 24 * 60)
        self.minutes_spin.setValue(10.0)
        self.minutes_spin.setSuffix(" min")
        self.out_edit = QLineEdit()
        self.batch_spin = QSpinBox()
        self.batch_spin.setMaximumWidth(140)
        self.batch_spin.setRange(1, 512)
        self.batch_spin.setValue(16)
        form.addRow("Teacher", self.teacher_combo)
        form.addRow("Student", self.preset_combo)
        form.addRow(self.pool)
        form.addRow("Masks", _row(self.masks_edit, browse_masks))
        form.addRow("Time budget", self.minutes_spin)
        form.addRow("Save as", self.out_edit)
        form.addRow("Batch size", self.batch_spin)
        return form

    def _build_run_controls(self, layout: QVBoxLayout) -> None:
        """Start and Cancel, then the run's status and, after it, what its card records."""
        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)
        self.summary_label = QLabel("")  # after a run: what its card records
        self.summary_label.setWordWrap(True)
        self.summary_label.setVisible(False)
        layout.addWidget(self.summary_label)

    # -- state ----------------------------------------------------------------

    @property
    def torch_ready(self) -> bool:
        return availability.torch_available()

    def _apply_availability(self) -> None:
        ready = self.torch_ready
        self.install_label.setVisible(not ready)
        self.start_button.setEnabled(ready and self.job is None)

    def refresh_teachers(self) -> None:
        current = self.teacher_combo.currentText()
        self.teacher_combo.clear()
        names = self.registry.names()
        self.teacher_combo.addItems(names)
        if current in names:
            self.teacher_combo.setCurrentText(current)

    def _suggest_output(self) -> None:
        name = self.teacher_combo.currentText()
        preset: StudentPreset = self.preset_combo.currentData()
        if not name or preset is None:
            return
        try:
            folder = self.registry.resolve(name).path.parent
        except Exception:  # noqa: BLE001 - a suggestion only
            folder = Path.home()
        self.out_edit.setText(str(folder / preset.file_name(name)))

    def _browse_folder(self, edit: QLineEdit, title: str) -> None:
        folder = QFileDialog.getExistingDirectory(self, title, edit.text() or str(Path.home()))
        if folder:
            edit.setText(folder)

    def config(self) -> DistillConfig:
        preset: StudentPreset = self.preset_combo.currentData()
        teacher = self.registry.resolve(self.teacher_combo.currentText())
        masks = Path(self.masks_edit.text()).expanduser() if self.masks_edit.text().strip() else None
        return DistillConfig(
            # By path: the child process has its own registry, which may not know this name.
            teacher=str(teacher.path),
            arch=preset.arch,
            width=preset.width,
            resolution=preset.resolution,
            slim_gates=preset.slim_gates,
            slim_skip_last_stage=preset.slim_skip_last_stage,
            data=DataConfig(masks=masks, **self.pool.data_settings()),
            loss=preset.loss,
            train=TrainConfig(
                minutes=self.minutes_spin.value(),
                batch_size=self.batch_spin.value(),
                learning_rate=preset.learning_rate,
                mosaic=preset.mosaic,
                validate_every_s=self.pool.validate_spin.value(),
            ),
            select=SelectConfig(**self.pool.select_settings()),
            out=Path(self.out_edit.text()).expanduser(),
        )

    # -- actions --------------------------------------------------------------

    def start(self) -> bool:
        """Starts a run on a worker thread; returns False (with the reason shown) if it cannot."""
        from segview.errors import SegviewError

        if not self.torch_ready:
            self._apply_availability()
            self.status_label.setText(availability.install_hint())
            return False
        if self.job is not None:
            return False
        try:
            config = self.config()
            if not config.data.images and not config.data.videos and not config.data.recordings:
                raise availability.DistillError("no frames to learn from: add an images folder, a video, a live source or a recording")
        except SegviewError as exc:
            self.status_label.setText(str(exc))
            return False
        self.losses, self.ious, self.outcome = [], [], None
        self.summary_label.setVisible(False)
        worker, process = child_run(config)
        worker.progress.connect(self._on_event)  # before the child starts: none of its events is missed
        worker.finished.connect(self._on_run_finished)
        worker.failed.connect(self._on_run_failed)
        try:
            process.start()
        except OSError as exc:
            self.status_label.setText(f"cannot start the training process: {exc}")
            return False
        self.job, self._process = worker.start(), process
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status_label.setText("starting…")
        self._plot_timer.start(PLOT_REFRESH_MS)
        return True

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.status_label.setText("cancelling at the next step…")

    def shutdown(self) -> None:
        """Called when the window closes: stop the run, leaving its checkpoint."""
        if self.job is not None and self._process is not None:
            self.job.cancel()
            self._process.wait(10)

    # -- worker events, on the GUI thread ------------------------------------

    def _on_event(self, event) -> None:  # noqa: ANN001 - a stage's text or a trainer Progress
        if isinstance(event, str):
            self._on_stage_changed(event)
        else:
            self._on_progress_reported(event)

    def _on_progress_reported(self, p) -> None:  # noqa: ANN001 - a trainer Progress
        self.losses.append((p.step, p.loss))
        if p.val_iou is not None:
            self.ious.append((p.step, p.val_iou))
        iou = f", validation IoU {self.ious[-1][1]:.3f}" if self.ious else ""
        self.status_label.setText(f"step {p.step}, {p.elapsed_s:.0f} s, {100 * p.fraction:.0f}% of the budget, loss {p.loss:.4f}{iou}")

    def _on_stage_changed(self, text: str) -> None:
        self.status_label.setText(text + "…")
        if "measuring" in text and self._held_engine is None:
            # The student's speed is timed against its teacher now: the studio's models would share the cores.
            window = self._studio_window()
            if window is not None:
                self._held_engine = window.engine
                beside = measure_hold.hold(window.engine, window)
                self.status_label.setText(f"{text}… (measured beside: {beside})")

    def _studio_window(self):
        """The studio window this page was opened from (it holds the engine), if any."""
        widget = self.parentWidget()
        while widget is not None and not hasattr(widget, "engine"):
            widget = widget.parentWidget()
        return widget

    def _on_run_finished(self, outcome) -> None:  # noqa: ANN001 - a DistillOutcome
        self._finish()
        self.outcome = outcome
        if outcome.cancelled:
            where = f"; checkpoint {outcome.checkpoint} (resume with segview distill --resume)" if outcome.checkpoint else ""
            self.status_label.setText(f"cancelled after {outcome.steps} steps{where}")
            return
        m = (outcome.card_extra or {}).get("distillation", {}).get("measured", {})
        iou = f", validation IoU {m['val_iou']:.3f} (teacher {m['teacher_val_iou']:.3f})" if m.get("val_iou") is not None else ""
        self.status_label.setText(
            f"wrote {outcome.model_path}: {m.get('speedup', 0):.1f}x faster than the teacher{iou}" + (f"\n{w}" if (w := quality_warning(m)) else "")
        )
        self.summary_label.setText(card_summary(outcome.card_extra))
        self.summary_label.setVisible(bool(self.summary_label.text()))
        self.student_registered.emit(outcome.model_path)

    def _on_run_failed(self, message: str) -> None:
        self._finish()
        self.status_label.setText(message)

    def _finish(self) -> None:
        if self._held_engine is not None:
            measure_hold.release(self._held_engine, self._studio_window())
            self._held_engine = None
        self.job = None
        self._process = None
        self._plot_timer.stop()
        self._redraw()
        self.cancel_button.setEnabled(False)
        self._apply_availability()

    def _redraw(self) -> None:
        self.canvas.show_points(self.losses, self.ious)


def _row(*widgets: QWidget) -> QWidget:
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        row.addWidget(w)
    return box
