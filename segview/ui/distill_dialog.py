"""Where the Distill page is shown: a window of its own (the studio's toolbar opens it), or a wizard page.

Apart from the page so the page stays one widget that any host lays out; a host only adds
its title and, for the window, stops the run when it closes.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QVBoxLayout, QWidget, QWizardPage

from segview.inference.registry import ModelRegistry
from segview.ui.distill_page import DistillPage


class DistillDialog(QDialog):
    """The page in a window of its own, until the compression wizard hosts it as one of its pages."""

    def __init__(self, registry: ModelRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Distill a student model")
        self.resize(1000, 860)
        self.page = DistillPage(registry, self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.page)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.page.shutdown()
        super().closeEvent(event)


class DistillWizardPage(QWizardPage):
    """The same page for a QWizard (the compression wizard can host it with one addPage)."""

    def __init__(self, registry: ModelRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Distil a student")
        self.setSubTitle("Train a small, fast network to imitate a teacher on your frames.")
        self.page = DistillPage(registry, self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.page)
