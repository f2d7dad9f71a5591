"""One compression step's options, as a form built from its config dataclass (the Compress wizard's first page).

The config's fields are the form: their types choose the editors, and each field's
description (:func:`segview.compress.step.option`) is the tooltip of its label and
editor, the same text ``segview compress --list-steps`` prints.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Literal, get_args, get_origin

from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QLabel, QLineEdit, QSpinBox, QWidget

from segview.compress.step import Step, option_help


class StepOptionsForm(QWidget):
    """Edits one step's options, built from its config dataclass: a checkbox per bool, a list per Literal..."""

    def __init__(self, step: Step, values: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.step = step
        self.editors: dict[str, QWidget] = {}
        layout = QFormLayout(self)
        hints = typing.get_type_hints(step.config_type)
        for f in dataclasses.fields(step.config_type):
            editor = _editor(hints[f.name], values.get(f.name, f.default))
            editor.setObjectName(f"option_{f.name}")
            label = QLabel(f.name.replace("_", " "))
            label.setBuddy(editor)
            for widget in (label, editor):
                widget.setToolTip(option_help(f))
            self.editors[f.name] = editor
            layout.addRow(label, editor)

    def values(self) -> dict[str, Any]:
        return {name: _value(editor) for name, editor in self.editors.items()}

    def set_values(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            _set_value(self.editors[name], value)


def _editor(hint: Any, value: Any) -> QWidget:
    if get_origin(hint) is Literal:
        box = QComboBox()
        for choice in get_args(hint):
            box.addItem(str(choice), choice)
        box.setCurrentIndex(max(0, box.findData(value)))
        return box
    if hint is bool:
        check = QCheckBox()
        check.setChecked(bool(value))
        return check
    if hint is int:
        spin = QSpinBox()
        spin.setRange(0, 1_000_000)
        spin.setValue(int(value))
        return spin
    if hint is float:
        real = QDoubleSpinBox()
        real.setDecimals(4)
        real.setRange(0.0, 100.0)
        real.setSingleStep(0.01)
        real.setValue(float(value))
        return real
    line = QLineEdit(", ".join(value) if isinstance(value, tuple) else str(value))
    line.setPlaceholderText("comma-separated" if get_origin(hint) is tuple else "")
    return line


def _set_value(editor: QWidget, value: Any) -> None:
    if isinstance(editor, QComboBox):
        editor.setCurrentIndex(max(0, editor.findData(value)))
    elif isinstance(editor, QCheckBox):
        editor.setChecked(bool(value))
    elif isinstance(editor, (QSpinBox, QDoubleSpinBox)):
        editor.setValue(value)
    else:
        editor.setText(", ".join(value) if isinstance(value, (tuple, list)) else str(value))  # type: ignore[attr-defined]


def _value(editor: QWidget) -> Any:
    if isinstance(editor, QComboBox):
        return editor.currentData()
    if isinstance(editor, QCheckBox):
        return editor.isChecked()
    if isinstance(editor, (QSpinBox, QDoubleSpinBox)):
        return editor.value()
    return editor.text()  # type: ignore[attr-defined]
