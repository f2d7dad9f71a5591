"""Two recorded sessions side by side: per model, each metric in A, in B, and B / A (GUI thread).

Every metric has the same name in its A and B columns, with its unit in the
header; a ratio that cannot be computed reads "n/a" and its tooltip says why.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from segview.recording.session_compare import COMPARED_METRICS, Metric, MetricCell, compare_models
from segview.recording.session_file import RecordedSession
from segview.recording.session_list import recorded_at
from segview.ui.session_plots import SessionPlots

NOT_AVAILABLE = "n/a"
BETTER, WORSE = QColor("#dff3e4"), QColor("#fbe3e1")
SIGNIFICANT = 0.05  # ratios within 5 % of 1 are not coloured: run-to-run noise is about that


def comparison_headers() -> list[str]:
    headers = ["model"]
    for m in COMPARED_METRICS:
        # Two lines: the metric's name, then which side and the unit; keeps 13 columns within the dialog.
        headers += [f"{m.label}\nA ({m.unit})", f"{m.label}\nB ({m.unit})", f"{m.label}\nB / A"]
    return headers


def _digits(metric: Metric) -> int:
    return 1 if metric.key == "fps" else 2


def _value_item(value: float | None, metric: Metric, side: str, why: str | None) -> QTableWidgetItem:
    if value is None:
        item = QTableWidgetItem(NOT_AVAILABLE)
        item.setToolTip(why or f"session {side} has no {metric.label} for this model")
        item.setForeground(QBrush(QColor("#777777")))
    else:
        item = QTableWidgetItem(f"{value:.{_digits(metric)}f}")
    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def _ratio_item(cell: MetricCell, metric: Metric) -> QTableWidgetItem:
    if cell.ratio is None:
        item = QTableWidgetItem(NOT_AVAILABLE)
        item.setToolTip(f"no ratio: {cell.why}")
        item.setForeground(QBrush(QColor("#777777")))
    else:
        item = QTableWidgetItem(f"{cell.ratio:.2f}x")
        better = cell.ratio > 1 if metric.higher_is_better else cell.ratio < 1
        direction = "above" if metric.higher_is_better else "below"
        item.setToolTip(f"B / A; {direction} 1 means B is better")
        if abs(cell.ratio - 1) > SIGNIFICANT:
            item.setBackground(QBrush(BETTER if better else WORSE))
    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def comparison_table(a: RecordedSession, b: RecordedSession) -> QTableWidget:
    rows = compare_models(a, b)
    headers = comparison_headers()
    table = FittedTable(len(rows), len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    for r, row in enumerate(rows):
        table.setItem(r, 0, QTableWidgetItem(row.model))
        for i, metric in enumerate(COMPARED_METRICS):
            cell = row.cells[metric.key]
            missing = cell.why if cell.why and "not in session" in cell.why else None
            table.setItem(r, 1 + 3 * i, _value_item(cell.a, metric, "A", missing))
            table.setItem(r, 2 + 3 * i, _value_item(cell.b, metric, "B", missing))
            table.setItem(r, 3 + 3 * i, _ratio_item(cell, metric))
    fit_height(table)
    return table


def fit_height(table: QTableWidget, *, room_for_scroll_bar: bool = True) -> None:
    """As tall as its rows (plus a horizontal scroll bar, should it need one): no empty band below them."""
    table.resizeRowsToContents()
    rows = sum(table.rowHeight(r) for r in range(table.rowCount()))
    header = table.horizontalHeader().sizeHint().height()
    scroll = table.horizontalScrollBar().sizeHint().height() if room_for_scroll_bar else 0
    table.setFixedHeight(header + rows + scroll + 2 * table.frameWidth())
    if isinstance(table, FittedTable):
        table.resizeColumnsToContents()
        table.content_width = sum(table.columnWidth(c) for c in range(table.columnCount())) + 2 * table.frameWidth()
        table.updateGeometry()


class FittedTable(QTableWidget):
    """Asks for the width of its columns (placed left-aligned, no empty header band runs on to the right);
    given less, it scrolls."""

    content_width = 0

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(self.content_width or hint.width(), hint.height())


class CompareView(QWidget):
    """Which session is A and which is B, then the table, then their plots (``shown`` once those are drawn)."""

    shown = Signal(object, object)  # sessions A and B

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel("Select two sessions in the list (Ctrl+click) and press Compare.")
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table: QTableWidget | None = None
        self.plots: SessionPlots | None = None  # made for the first pair: the dialog opens sooner without them
        self.pair: tuple[RecordedSession, RecordedSession] | None = None
        self.box = QVBoxLayout(self)
        self.box.addWidget(self.caption)
        self.box.addStretch(1)

    def show_pair(self, a: RecordedSession, b: RecordedSession) -> None:
        self.caption.setText(
            f"<b>A</b>: {_describe(a)}<br><b>B</b>: {_describe(b)}<br>"
            "Ratios are B / A: for FPS above 1 means B is faster, for latency below 1 does "
            "(green: B better by more than 5 %, red: worse)."
        )
        if self.table is not None:
            self.table.setParent(None)
            self.table.deleteLater()
        self.table = comparison_table(a, b)
        self.box.insertWidget(1, self.table, 0, Qt.AlignmentFlag.AlignLeft)
        self.pair = (a, b)
        if self.plots is None:
            self.plots = SessionPlots()
            self.plots.drawn.connect(self._plots_drawn)
            self.box.insertWidget(2, self.plots, 1000)  # takes the room the stretch below held
        self.plots.show_pair(a, b)

    def _plots_drawn(self) -> None:
        if self.pair is not None:
            self.shown.emit(*self.pair)


def _describe(session: RecordedSession) -> str:
    source = session.settings.get("source") or "?"
    when = recorded_at(session).strftime("%Y-%m-%d %H:%M:%S")
    return f"{session.folder.name} (recorded {when}, {source}, {', '.join(session.models) or 'no models'})"
