"""Plot titles on two lines: "what (unit)", then which model (in its colour) or which series.

A title names what a plot shows without a legend on the data. Its text is elided to the
plot's column, never widening the plot: pyqtgraph's labels ask for their text's width as a
minimum, and ten titles then added up to more than a 1280 px window.
"""

from __future__ import annotations

import html

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics

from segview.ui.palette import RGB, css

TITLE_HEIGHT_PX = 30  # two lines
MUTED: RGB = (120, 124, 134)
_DETAIL_FONT = QFont()
_DETAIL_FONT.setPointSizeF(7.5)
_WHAT_FONT = QFont()
_WHAT_FONT.setPointSizeF(8.5)


def title_min(label: pg.LabelItem) -> None:
    """LabelItem.updateMin without the minimum width (see _plot)."""
    label.setMinimumWidth(0)
    label.setMinimumHeight(min(TITLE_HEIGHT_PX, label.itemRect().height()))
    label.updateGeometry()


class PlotTitles:
    """Two-line plot titles: "what (unit)", then which model (in its colour) or which series.

    The second line is elided in the middle ("selfie-g…-int8") to the width a plot has,
    and set again when that width changes; a title is re-set only when its text does.
    """

    def __init__(self) -> None:
        self._wanted: dict[int, tuple[pg.PlotItem, str, list[tuple[str, RGB]]]] = {}
        self._shown: dict[int, str] = {}
        self.width = 200.0

    def set(self, plot: pg.PlotItem, what: str, detail: list[tuple[str, RGB]] | str) -> None:
        parts = [(detail, MUTED)] if isinstance(detail, str) else detail
        self._wanted[id(plot)] = (plot, what, parts)
        self._apply(id(plot))

    def resize(self, width: float) -> None:
        if abs(width - self.width) >= 4:
            self.width = width
            for key in self._wanted:
                self._apply(key)

    def plain(self, plot: pg.PlotItem) -> str:
        """The title as a user reads it (for tests and tooltips)."""
        _, what, parts = self._wanted[id(plot)]
        return " — ".join([what, " ".join(text for text, _ in parts)]) if parts else what

    def _apply(self, key: int) -> None:
        plot, what, parts = self._wanted[key]
        detail = " ".join(f"<span style='color:{css(colour)}'>{html.escape(text)}</span>" for text, colour in _elided(parts, self.width - 10.0))
        what = QFontMetrics(_WHAT_FONT).elidedText(what, Qt.TextElideMode.ElideRight, int(self.width - 6))
        title = f"<span style='font-size:8.5pt'>{html.escape(what)}</span><br><span style='font-size:7.5pt'>{detail or '&nbsp;'}</span>"
        if self._shown.get(key) != title:
            self._shown[key] = title
            plot.setTitle(title)
            plot.layout.setRowFixedHeight(0, TITLE_HEIGHT_PX)  # setTitle resets it to 30


def _elided(parts: list[tuple[str, RGB]], room: float) -> list[tuple[str, RGB]]:
    """Parts that fit ``room`` pixels together: short words ("vs") kept, long names share the rest."""
    metrics = QFontMetrics(_DETAIL_FONT)
    widths = [metrics.horizontalAdvance(text + " ") for text, _ in parts]
    if sum(widths) <= room:
        return parts
    short = [w <= 24 for w in widths]
    longs = max(1, short.count(False))
    share = max(30.0, (room - sum(w for w, s in zip(widths, short, strict=True) if s)) / longs)
    return [(text if s else metrics.elidedText(text, Qt.TextElideMode.ElideMiddle, int(share)), colour) for (text, colour), s in zip(parts, short, strict=True)]
