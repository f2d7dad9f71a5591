"""The compression wizard's shell: four pages (model and steps, data, targets, run), the buttons between them, and the recipe.

GUI thread only. The pages are their own modules (:mod:`compress_steps`,
:mod:`compress_data_page`, :mod:`compress_targets_page`, :mod:`compress_run_page`);
the same :class:`Recipe` the command line runs is built here from their fields and
can be saved for ``segview compress --recipe``. The wizard knows no window: it is
given the registry and, in the studio, the engine (to capture frames, to pause it
while a job times models, to start from the model it runs), and says what happened
through signals, which the studio window connects to its own slots.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QFileDialog, QHBoxLayout, QLabel, QPushButton, QStackedWidget, QVBoxLayout, QWidget

from segview.compress.paths import default_output_dir
from segview.errors import SegviewError
from segview.inference.registry import ModelRegistry, default_search_dirs
from segview.ui import measure_hold
from segview.ui.compress_data_page import DataPage
from segview.ui.compress_run_page import RunPage
from segview.ui.compress_steps import ModelStepsPage
from segview.ui.compress_targets_page import TargetsPage
from segview.ui.palette import PROBLEM_STYLE
from segview.ui.speed_hint import Int8Note, SpeedHintLine
from segview.ui.wizard_page import WizardPage

if TYPE_CHECKING:  # the job's modules load on the steps page's worker thread, not when the wizard opens
    from segview.compress.recipe import Recipe
    from segview.compress.runner import RunResult

__all__ = ["CompressWizard", "ModelStepsPage", "WizardPage"]

# The registry's "name (2)": a second file with a taken card name, known by that name only in this process.
DISAMBIGUATED = re.compile(r" \(\d+\)$")


class CompressWizard(QDialog):
    """Signals are past events: ``job_finished`` (RunResult), ``job_failed`` (message), ``job_cancelled``,
    ``result_registered`` (the result's name, now in the registry: a model picker lists it again), and
    ``compare_requested`` (names: the source and the result, to run side by side).

    ``engine``: the studio's, or None. The parent widget, if any, shows the "studio paused" note in its status bar.
    """

    job_finished = Signal(object)
    job_failed = Signal(str)
    job_cancelled = Signal()
    result_registered = Signal(str)
    compare_requested = Signal(list)

    def __init__(self, registry: ModelRegistry, *, engine=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compress a model")
        self.resize(900, 680)
        self.registry = registry
        self.engine = engine
        self.last_result: RunResult | None = None  # not self.result: QDialog.result() is the dialog's own
        self.steps_page = ModelStepsPage(registry)
        # Said before a run: int8 makes the model smaller, not faster, here (at once), then the profile's line for each step.
        self.int8_note = Int8Note(self.steps_page)
        self.speed_hint = SpeedHintLine(self.steps_page, engine, parent)
        self.data_page = DataPage(engine, needs_frames=self._needs_frames)
        self.targets_page = TargetsPage(targeted=lambda: [s.title for s in self.steps_page.steps() if s.takes_iou_target])
        self.run_page = RunPage()
        self.pages: list[WizardPage] = [self.steps_page, self.data_page, self.targets_page, self.run_page]
        self._lay_out()
        self.targets_page.save_button.clicked.connect(self._on_save_recipe)
        self.run_page.compare_button.clicked.connect(self.compare_with_original)
        self.run_page.finished.connect(self._on_finished)
        self.run_page.failed.connect(self.job_failed)
        self.run_page.cancelled.connect(self.job_cancelled)
        running = [e.name for e in engine.models] if engine is not None else []
        if running:
            self.steps_page.set_model(running[0])
        self.refresh_header()
        self._update_buttons()

    def _lay_out(self) -> None:
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

    def _needs_frames(self) -> bool:
        return any(self.steps_page.step(name).needs_calibration for name in self.steps_page.chosen_steps())

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

    def reopen(self) -> None:
        """Shown again after it was closed: back on the first page with every field as it was left."""
        if self.running:
            return
        self.stack.setCurrentIndex(0)
        self.steps_page.refresh_models()
        self.refresh_header()
        self._update_buttons()

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
        recipe = Recipe(
            model=self._reference(model),
            steps=tuple(steps),
            calibration=self.data_page.calibration(),
            eval_images=self.data_page.eval_images.text().strip() or None,
            eval_masks=self.data_page.eval_masks.text().strip() or None,
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

    def _on_save_recipe(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save recipe", str(default_output_dir() / "recipe.json"), "Recipes (*.json)")
        if path:
            self.save_recipe(Path(path))

    def validateCurrentPage(self) -> bool:  # noqa: N802 - QWizard's name
        if self.currentPage() is self.targets_page:
            try:
                # As the job will see it: the chain against the model's weights, and a result name that is free.
                self.recipe().settled(self.registry)
            except SegviewError as exc:
                self.targets_page.setSubTitle(f"<span style='{PROBLEM_STYLE}'>{exc}</span>")
                return False
        return True

    # -- the job (run by the run page) -----------------------------------------

    def start_job(self) -> bool:
        self.run_page.reset()
        try:
            recipe = self.recipe()
        except SegviewError as exc:
            self.run_page.fail(str(exc))
            return False
        started = self.run_page.start(recipe, on_measuring=self._on_measuring)
        self._update_buttons()
        return started

    @property
    def running(self) -> bool:
        return self.run_page.running

    def cancel_job(self) -> None:
        self.run_page.cancel()

    def stop_job(self) -> None:
        self.run_page.stop()

    def _on_finished(self, result: RunResult) -> None:
        """The result joins the registry (and, through ``result_registered``, the studio's picker)."""
        self.last_result = result
        page = self.run_page
        try:
            entry = self.registry.add_file(result.model_path)
        except SegviewError as exc:
            page.status.setText(f"Written to {result.model_path}, but it cannot be listed: {exc}")
        else:
            page.status.setText(f"Done: {entry.name} is in the model picker ({result.model_path}).")
            self.result_registered.emit(entry.name)
            page.compare_button.setEnabled(self.engine is not None)  # "beside the original" means in the studio
        self._update_buttons()
        self.job_finished.emit(result)

    def compare_with_original(self) -> bool:
        """Ask for the result to run beside its source (the studio window chooses the models)."""
        result = self.last_result
        if result is None:
            return False
        entry = self.registry.add_file(result.model_path)
        self.compare_requested.emit([result.report.source_name, entry.name])
        return True

    def _on_measuring(self, measuring: bool) -> str:
        """The job is about to time the models (True) or is done (False): pause the studio's models meanwhile."""
        if self.engine is None:
            return "nothing from a studio (no studio window)"
        if measuring:
            return measure_hold.hold(self.engine, self.parentWidget())
        measure_hold.release(self.engine, self.parentWidget())
        return ""

    def reject(self) -> None:
        # Closing the wizard while a job runs stops it; the job removes its partial files.
        self.stop_job()
        super().reject()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.stop_job()
        super().closeEvent(event)
