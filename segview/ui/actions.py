"""A QAction in one call: its text, shortcut(s), tooltip and what it runs (the toolbar's and the demo actions')."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence


def make_action(
    parent: QObject,
    text: str,
    slot: Callable[..., Any] | None = None,
    *,
    toggled: Callable[[bool], Any] | None = None,
    shortcut: Any = None,
    tip: str | None = None,
) -> QAction:
    """``slot`` runs when the action is triggered; ``toggled`` makes it checkable and gets each new state.

    ``shortcut`` is anything QKeySequence takes (a string, a key, a standard key) or a tuple or list of them.
    """
    action = QAction(text, parent)
    if isinstance(shortcut, Sequence) and not isinstance(shortcut, str):
        action.setShortcuts([QKeySequence(key) for key in shortcut])
    elif shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    if tip is not None:
        action.setToolTip(tip)
    if slot is not None:
        action.triggered.connect(slot)
    if toggled is not None:
        action.setCheckable(True)
        action.toggled.connect(toggled)
    return action
