"""The Compress wizard's third page: the IoU-drop target of the accuracy searches, and where the result goes."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout, QLineEdit, QPushButton, QSpinBox

from segview.compress.paths import default_output_dir
from segview.ui.wizard_page import WizardPage

# Default latency rounds (MeasureOptions().rounds; not imported, to keep the wizard's import light).
DEFAULT_ROUNDS = 15


class TargetsPage(WizardPage):
    """``targeted``: the titles of the steps whose search takes the target (their ``takes_iou_target``), for the subtitle."""

    def __init__(self, targeted: Callable[[], list[str]] = list) -> None:
        super().__init__()
        self.setTitle("Targets and output")
        self.targeted = targeted
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

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        titles = self.targeted()
        searches = f" ({', '.join(titles)})" if titles else ""
        self.setSubTitle(f"The accuracy searches{searches} keep layers uncompressed until the masks stay within this IoU drop of the source's.")

    def _browse_out(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Output folder", self.out_edit.text())
        if path:
            self.out_edit.setText(path)
