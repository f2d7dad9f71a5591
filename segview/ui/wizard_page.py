"""The Compress wizard's page base: a title, a subtitle and whether the user may move on (QWizardPage's interface)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget


class WizardPage(QWidget):
    """One page: a title, a subtitle and whether the user may move on.

    Not QWizard/QWizardPage: under PySide6 6.11 a QWizard whose pages hold widgets crashes the
    interpreter when the application's style sheet is applied again later (seen offscreen, in tests).
    """

    completeChanged = Signal()  # noqa: N815 - the name QWizardPage uses

    def __init__(self) -> None:
        super().__init__()
        self._title = ""
        self._subtitle = ""
        self._wizard: Any = None  # the CompressWizard that holds the page (set by it)

    def title(self) -> str:
        return self._title

    def subTitle(self) -> str:  # noqa: N802 - QWizardPage's name
        return self._subtitle

    def setTitle(self, text: str) -> None:  # noqa: N802
        self._title = text
        self._changed()

    def setSubTitle(self, text: str) -> None:  # noqa: N802
        self._subtitle = text
        self._changed()

    def wizard(self):
        return self._wizard

    def isComplete(self) -> bool:  # noqa: N802
        return True

    def initializePage(self) -> None:  # noqa: N802
        """Called when the page is entered."""

    def _changed(self) -> None:
        if self._wizard is not None:
            self._wizard.refresh_header()
