"""A calm, readable look: Fusion style with a light palette and an accent colour."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

ACCENT = QColor(30, 110, 200)

STYLESHEET = """
QGroupBox { font-weight: 600; border: 1px solid #d5d8de; border-radius: 6px; margin-top: 10px; padding: 8px 6px 6px 6px; background: #ffffff; }
QGroupBox::title { subcontrol-origin: margin; left: 10px; padding: 0 4px; color: #30343b; }
QToolBar { spacing: 6px; padding: 4px; border-bottom: 1px solid #d5d8de; background: #f6f7f9; }
QToolButton { padding: 4px 10px; border-radius: 4px; }
QToolButton:checked { background: #c62828; color: white; }
QToolButton:hover { background: #e3e8ef; }
QPushButton { padding: 4px 10px; }
QStatusBar { background: #f6f7f9; border-top: 1px solid #d5d8de; }
"""


def apply_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    palette = QPalette()
    palette.setColor(QPalette.ColorRole.Window, QColor(240, 242, 245))
    palette.setColor(QPalette.ColorRole.Base, QColor(255, 255, 255))
    palette.setColor(QPalette.ColorRole.AlternateBase, QColor(246, 247, 249))
    palette.setColor(QPalette.ColorRole.Highlight, ACCENT)
    palette.setColor(QPalette.ColorRole.HighlightedText, QColor(255, 255, 255))
    palette.setColor(QPalette.ColorRole.Button, QColor(248, 249, 251))
    app.setPalette(palette)
    app.setStyleSheet(STYLESHEET)
