"""The row above the dashboard's plots: which colour is which model and stage, and which model
the per-model plots (stages, histogram, energy) show.

Legends live here rather than on the plots, where four long model names covered the curves.
A QLabel is painted by Qt in C++ and changes only when the models do.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QWidget

from segview.types import StageTimings
from segview.ui.palette import RGB, STAGE_COLOURS, css

STAGE_LABELS = {"capture_ms": "capture", "queue_ms": "queue", "preprocess_ms": "pre", "inference_ms": "inference", "postprocess_ms": "post"}


def swatch(name: str, colour: RGB) -> str:
    """A coloured square and a name, as rich text that never breaks inside."""
    return f"<span style='white-space:nowrap'><span style='color:{css(colour)}'>&#9632;</span>&nbsp;{html.escape(name)}</span>"


def legend_html(models: dict[str, RGB]) -> str:
    """Models, then stages; a narrow window wraps between entries, and the stages stay on one line."""
    parts = [swatch(name, colour) for name, colour in models.items()] or ["none ticked"]
    stages = "&nbsp;&nbsp;".join(swatch(STAGE_LABELS[s], STAGE_COLOURS[s]) for s in StageTimings.STAGES)
    return (
        "<b>Models</b>&nbsp; " + "&nbsp;&nbsp; ".join(parts) + f"&nbsp;&nbsp;&nbsp;&nbsp; <span style='white-space:nowrap'><b>Stages</b>&nbsp; {stages}</span>"
    )


class DashboardHeader(QWidget):
    """Emits ``focus_changed`` (a model name) when the user picks the model of the per-model plots."""

    focus_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.legend = QLabel(legend_html({}))
        self.legend.setWordWrap(True)  # narrow windows wrap the legend onto a second line instead of cutting it
        self.legend.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.chooser = QComboBox()
        self.chooser.setToolTip("The model the stage, histogram and energy plots show")
        self.chooser.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.chooser.currentTextChanged.connect(self._on_chosen)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 0)
        layout.addWidget(self.legend, 1)
        layout.addWidget(QLabel("Per-model plots:"))
        layout.addWidget(self.chooser)
        self._models: dict[str, RGB] = {}

    def set_models(self, models: dict[str, RGB]) -> None:
        """The shown models and their colours; the chosen model is kept while it is shown."""
        if models == self._models:
            return
        self._models = dict(models)
        self.legend.setText(legend_html(models))
        current = self.chooser.currentText()
        self.chooser.blockSignals(True)
        self.chooser.clear()
        self.chooser.addItems(list(models))
        if current in models:
            self.chooser.setCurrentText(current)
        self.chooser.blockSignals(False)
        self.chooser.setEnabled(len(models) > 1)

    def focus(self) -> str | None:
        """The model the per-model plots show: the chosen one, else the first shown."""
        text = self.chooser.currentText()
        return text if text in self._models else next(iter(self._models), None)

    def _on_chosen(self, text: str) -> None:
        if text:
            self.focus_changed.emit(text)
