"""The Compress wizard's first page: the model, the steps in order, and each step's options.

The steps cannot be led into a dead end: after every change, each unticked step
that could not run where it stands (int8-static after fp16: it needs float32
weights) is disabled, with the reason as its tooltip and below the list. The
reasons come from the steps' own declarations (:func:`segview.compress.step.chain_problem`),
checked against the chosen model's weights, not from names written here.

Opening the wizard must not stall the studio: the step registry imports
onnxruntime's quantization tools (~0.1 s, far more on a busy machine), so the
steps are loaded on a worker thread and listed when they arrive; each step's
options form is built when the step is first selected.
"""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QStackedWidget,
    QVBoxLayout,
)

from segview.compress.step import ChainIssue, Step, all_steps, chain_issue, chain_problem, form_of_card
from segview.inference.registry import ModelRegistry
from segview.ui.palette import PROBLEM_STYLE
from segview.ui.step_options_form import StepOptionsForm
from segview.ui.wizard_page import WizardPage

__all__ = ["ModelStepsPage", "StepLoader", "StepOptionsForm", "WizardPage"]

LOAD_DELAY_MS = 250


def _blocked_text(blocked: list[tuple[str, ChainIssue]]) -> str:
    """One line per reason: "Greyed out, after fp16 they are float16 (...): int8-static needs float32 or shared (k-means); ..."."""
    groups: dict[tuple[str, str], list[str]] = {}
    for name, issue in blocked:
        need = f"{issue.step} needs {issue.wanted}" + ("" if issue.step == name else f" (so {name} cannot go here)")
        groups.setdefault((issue.where, issue.hint), []).append(need)
    lines = [f"Greyed out, {where}" + (f" ({hint})" if hint else "") + ": " + "; ".join(needs) + "." for (where, hint), needs in groups.items()]
    return "\n".join(lines)


class StepLoader(QObject):
    """Imports the step registry (and the job's modules) on a worker thread; ``loaded`` arrives on the GUI thread."""

    loaded = Signal(list)

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[Step] | None = None
        self._thread = threading.Thread(target=self._load, name="segview-compress-steps", daemon=True)

    def start(self) -> None:
        """Start loading, once (connect to ``loaded`` first: the steps may already be imported, and arrive at once)."""
        if not self._thread.is_alive() and self.steps is None and self._thread.ident is None:
            self._thread.start()

    def _load(self) -> None:
        steps = all_steps()
        import segview.compress.job  # noqa: F401 - warmed here, so starting the first job does not stall either

        self.steps = steps
        self.loaded.emit(steps)

    def wait(self) -> list[Step]:
        """The steps now (for scripts and tests that drive the page at once)."""
        self.start()
        self._thread.join()
        assert self.steps is not None
        return self.steps


class ModelStepsPage(WizardPage):
    def __init__(self, registry: ModelRegistry) -> None:
        super().__init__()
        self.setTitle("Model and steps")
        self.setSubTitle("Tick the steps to chain, in order (drag to reorder). Each result is measured against the model you pick.")
        self.registry = registry
        self.model_combo = QComboBox()
        self.steps_list = QListWidget()
        self.steps_list.setDragDropMode(QListWidget.DragDropMode.InternalMove)
        self.options_box = QGroupBox("Options")
        self.forms: dict[str, StepOptionsForm] = {}
        self._steps: dict[str, Step] = {}
        self._updating = False
        self.options_stack = QStackedWidget()
        self.options_stack.addWidget(QLabel("Select a step to see its options."))
        QVBoxLayout(self.options_box).addWidget(self.options_stack)
        self.description = QLabel("")
        self.description.setWordWrap(True)
        # Why a step is greyed out, and what is wrong with the ticked order (if anything).
        self.blocked_label = QLabel("")
        self.blocked_label.setWordWrap(True)
        self.blocked_label.setObjectName("blocked_steps")
        self.problem_label = QLabel("")
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet(PROBLEM_STYLE)
        self.steps_list.addItem(QListWidgetItem("Loading the steps…"))
        self.steps_list.currentItemChanged.connect(self._on_step_selected)
        self.steps_list.itemChanged.connect(self._on_steps_changed)
        self.steps_list.model().rowsMoved.connect(lambda *_: self._on_steps_changed())
        self.model_combo.currentIndexChanged.connect(lambda _: self._on_steps_changed())
        form = QFormLayout()
        form.addRow("Model", self.model_combo)
        left = QVBoxLayout()
        left.addWidget(self.steps_list, 1)
        left.addWidget(self.problem_label)
        left.addWidget(self.blocked_label)
        right = QVBoxLayout()
        right.addWidget(self.description)
        right.addWidget(self.options_box, 1)
        row = QHBoxLayout()
        row.addLayout(left, 1)
        row.addLayout(right, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(row, 1)
        self.refresh_models()
        self._loader = StepLoader()
        self._loader.loaded.connect(self._fill_steps)
        # After the wizard's first paint: the import shares the GIL with the GUI thread, and the paint goes first.
        QTimer.singleShot(LOAD_DELAY_MS, self._loader.start)

    # -- the step list ---------------------------------------------------------

    def _fill_steps(self, steps: list[Step]) -> None:
        if self._steps:
            return
        self._steps = {step.name: step for step in steps}
        self._updating = True
        self.steps_list.clear()
        for step in steps:
            item = QListWidgetItem(f"{step.title}  ({step.name})")
            item.setData(Qt.ItemDataRole.UserRole, step.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.steps_list.addItem(item)
        self._updating = False
        self._on_steps_changed()

    def ensure_steps(self) -> None:
        """List the steps now if the worker has not delivered them yet."""
        if not self._steps:
            self._fill_steps(self._loader.wait())

    def _items(self) -> list[QListWidgetItem]:
        return [self.steps_list.item(i) for i in range(self.steps_list.count())] if self._steps else []

    def _on_steps_changed(self) -> None:
        if self._updating:
            return
        self._updating = True
        try:
            self._mark_impossible_steps()
        finally:
            self._updating = False
        self.completeChanged.emit()

    def _mark_impossible_steps(self) -> None:
        """Grey out each unticked step that could not run where it stands, saying why (from the declarations)."""
        items = self._items()
        if not items:
            return
        form, source = self.source_form()
        ticked = [i for i in items if i.checkState() == Qt.CheckState.Checked]
        names = lambda chosen: [i.data(Qt.ItemDataRole.UserRole) for i in items if i in chosen]  # noqa: E731 - list order
        current = chain_issue(names(ticked), source_form=form, source=source)
        blocked: list[tuple[str, ChainIssue]] = []
        for item in items:
            name = item.data(Qt.ItemDataRole.UserRole)
            issue = None
            if item.checkState() != Qt.CheckState.Checked:
                issue = chain_issue(names([*ticked, item]), source_form=form, source=source)
                if issue == current:
                    issue = None  # the ticked order is wrong already; this step adds nothing to that
            enabled = Qt.ItemFlag.ItemIsEnabled
            item.setFlags(item.flags() & ~enabled if issue else item.flags() | enabled)
            reason = str(issue) if issue is None or issue.step == name else f"{name} here: {issue}"
            item.setToolTip(reason if issue else self._steps[name].description)
            if issue:
                blocked.append((name, issue))
        self.blocked_label.setText(_blocked_text(blocked))
        self.problem_label.setText(f"This order cannot run: {current}." if current else "")

    def source_form(self) -> tuple[str, str]:
        """The chosen model's weight form (from its card's compression record) and its name."""
        name = self.model_combo.currentData()
        if not name:
            return "float32", "the model"
        try:
            entry = self.registry.resolve(name)
        except Exception:  # noqa: BLE001 - a model that vanished: the job itself will say so
            return "float32", name
        return form_of_card(entry.card), name

    def chain_problem(self) -> str | None:
        """What is wrong with the ticked steps in their order, or None."""
        form, source = self.source_form()
        names = self.chosen_steps(wait=False)
        return chain_problem(names, source_form=form, source=source) if names else None

    # -- models ----------------------------------------------------------------

    def refresh_models(self, select: str | None = None) -> None:
        current = select or self.model_combo.currentData()
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for entry in self.registry.entries():
            self.model_combo.addItem(f"{entry.name}  ({entry.card.width}x{entry.card.height})", entry.name)
            self.model_combo.setItemData(self.model_combo.count() - 1, entry.tooltip, Qt.ItemDataRole.ToolTipRole)
        index = self.model_combo.findData(current)
        if index >= 0:
            self.model_combo.setCurrentIndex(index)
        self.model_combo.blockSignals(False)
        self._on_steps_changed()

    def set_model(self, name: str) -> bool:
        index = self.model_combo.findData(name)
        if index >= 0:
            self.model_combo.setCurrentIndex(index)
        return index >= 0

    # -- scripting (tests, the wizard) -----------------------------------------

    def set_steps(self, names: list[str]) -> None:
        """Tick these steps, in this order, and untick the others."""
        self.ensure_steps()
        self._updating = True
        items = [self.steps_list.takeItem(0) for _ in range(self.steps_list.count())]
        by_name = {i.data(Qt.ItemDataRole.UserRole): i for i in items}
        for name in names:
            by_name[name].setCheckState(Qt.CheckState.Checked)
            self.steps_list.addItem(by_name.pop(name))
        for item in items:
            if item.data(Qt.ItemDataRole.UserRole) in by_name:
                item.setCheckState(Qt.CheckState.Unchecked)
                self.steps_list.addItem(item)
        self._updating = False
        self._on_steps_changed()

    def set_options(self, step: str, **values: Any) -> None:
        self.form(step).set_values(values)

    def chosen_steps(self, *, wait: bool = True) -> list[str]:
        if wait:
            self.ensure_steps()
        return [i.data(Qt.ItemDataRole.UserRole) for i in self._items() if i.checkState() == Qt.CheckState.Checked]

    def step_values(self, name: str) -> dict[str, Any]:
        return self.form(name).values()

    def step(self, name: str) -> Step:
        self.ensure_steps()
        return self._steps[name]

    def steps(self) -> list[Step]:
        """Every registered step, in the registry's order."""
        self.ensure_steps()
        return list(self._steps.values())

    def form(self, name: str) -> StepOptionsForm:
        """The step's options form, built the first time it is needed."""
        if name not in self.forms:
            self.forms[name] = StepOptionsForm(self.step(name), {})
            self.options_stack.addWidget(self.forms[name])
        return self.forms[name]

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return bool(self.chosen_steps(wait=False)) and self.model_combo.count() > 0 and self.chain_problem() is None

    def _on_step_selected(self, current: QListWidgetItem | None, _previous) -> None:
        name = current.data(Qt.ItemDataRole.UserRole) if current is not None else None
        if name is None:
            return
        step = self._steps[name]
        self.description.setText(f"<b>{step.title}</b><br>{step.description}" + ("<br><i>Needs calibration frames.</i>" if step.needs_calibration else ""))
        self.options_stack.setCurrentWidget(self.form(name))
