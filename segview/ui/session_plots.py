"""A recorded session's plots in the Sessions dialog: FPS over time and latency over time, one line per model.

The series come from seconds.jsonl (read off the GUI thread with the rest of
the session); drawing them is a few hundred points, but building the plots is
not cheap: it is spread over turns of the event loop (see ``SessionPlots``). Each
model keeps the colour the report gives it, and one legend, beside the plots,
names them for both.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from segview.recording.session_file import RecordedSession
from segview.ui.plot_ranges import nice_ceil
from segview.ui.report import PALETTE

TEXT = "#222222"
STEP_PAUSE_MS = 10  # between two steps of building the plots: the event loop catches up meanwhile


def model_colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


class SessionPlots(QWidget):
    """Two plots over the run's seconds: frames per second and median end-to-end latency, per model.

    Building a pyqtgraph plot takes tens of milliseconds: the plots are built
    when first asked to show a session, one plot per step, with a pause between
    steps for the event loop, then drawn a step later: no step holds the GUI thread long;
    a note stands in their place meanwhile. ``drawn`` says the runs last asked
    for are on the plots.
    """

    drawn = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas: pg.GraphicsLayoutWidget | None = None
        self.fps_plot: pg.PlotItem | None = None
        self.latency_plot: pg.PlotItem | None = None
        self.legend: pg.LegendItem | None = None
        self._runs: list[tuple[RecordedSession, str, Qt.PenStyle]] | None = None  # waiting to be drawn
        self.note = QLabel("")  # in the plots' place until they are built
        self.note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.note.setStyleSheet("color: #666666")
        self.setMinimumHeight(220)
        self._next = QTimer(self)  # one step of building or drawing per turn of the event loop
        self._next.setSingleShot(True)
        # Not 0: a zero timer fires again before the paint and the input the last step queued are handled.
        self._next.setInterval(STEP_PAUSE_MS)
        self._next.timeout.connect(self._step)
        self.box = QVBoxLayout(self)
        self.box.setContentsMargins(0, 0, 0, 0)
        self.box.addWidget(self.note)

    @property
    def built(self) -> bool:
        return self.legend is not None

    def _step(self) -> None:
        if self.canvas is None:
            self.canvas = pg.GraphicsLayoutWidget(parent=self)  # a child, hidden until drawn: it goes with the panel
            self.canvas.hide()
            self.canvas.setBackground("w")
            self.canvas.ci.setContentsMargins(4, 4, 8, 4)
        elif self.fps_plot is None:
            # Side by side: the dialog is wider than it is tall.
            self.fps_plot = self._plot(0, "Frames per second, per model", "FPS (frames/s)")
        elif self.latency_plot is None:
            self.latency_plot = self._plot(1, "Latency per model (median of each second)", "end-to-end latency p50 (ms)")
        elif self.legend is None:
            self._add_legend()
        else:
            if self._runs is None:
                return  # nothing left to draw
            runs, self._runs = self._runs, None
            self._draw(runs)
            if self.box.indexOf(self.canvas) < 0:  # shown once drawn: one first paint, not one empty then one full
                self.note.hide()
                self.box.addWidget(self.canvas)
                self.canvas.show()  # now, not on the next turn as a layout would
            self.drawn.emit()
            return
        self._next.start()

    def _add_legend(self) -> None:
        assert self.canvas is not None
        layout = self.canvas.ci
        self.legend = pg.LegendItem(labelTextColor=TEXT, labelTextSize="9pt", verSpacing=-6)
        layout.addItem(self.legend, row=0, col=2)
        for col, stretch in ((0, 1), (1, 1), (2, 0)):
            layout.layout.setColumnStretchFactor(col, stretch)
        layout.layout.setAlignment(self.legend, Qt.AlignmentFlag.AlignTop)

    def _plot(self, col: int, title: str, y_label: str) -> pg.PlotItem:
        assert self.canvas is not None
        plot: pg.PlotItem = self.canvas.ci.addPlot(row=0, col=col, enableMenu=False)  # no menu: not built at all
        plot.setTitle(title, color=TEXT, size="10pt")
        for side, label in (("bottom", "time since start (s)"), ("left", y_label)):
            axis = plot.getAxis(side)
            axis.setPen(pg.mkPen("#555555"))
            axis.setTextPen(pg.mkPen(TEXT))
            axis.enableAutoSIPrefix(False)
            axis.setLabel(label, color=TEXT)
        plot.showGrid(x=True, y=True, alpha=0.15)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setMouseEnabled(x=False, y=False)
        return plot

    def clear(self) -> None:
        for plot in (self.fps_plot, self.latency_plot):
            if plot is not None:
                plot.clear()
        if self.legend is not None:
            self.legend.clear()

    def show_session(self, session: RecordedSession | None) -> None:
        self._ask([] if session is None else [(session, "", Qt.PenStyle.SolidLine)])

    def show_pair(self, a: RecordedSession, b: RecordedSession) -> None:
        """Both runs on the same axes: a model keeps its colour, A solid, B dashed."""
        self._ask([(a, " (A)", Qt.PenStyle.SolidLine), (b, " (B)", Qt.PenStyle.DashLine)])

    def _ask(self, runs: list[tuple[RecordedSession, str, Qt.PenStyle]]) -> None:
        """Draw ``runs`` on a later turn (the latest request wins), building the plots first if need be."""
        if not runs and not self.built:
            self._runs = None  # nothing to show on plots not built: leave them unbuilt
            self._next.stop()
            self.drawn.emit()
            return
        self._runs = runs
        if not self.built:
            self.note.setText("Drawing the plots…")
        self._next.start()

    def _draw(self, runs: list[tuple[RecordedSession, str, Qt.PenStyle]]) -> None:
        assert self.fps_plot is not None and self.latency_plot is not None and self.legend is not None
        self.clear()
        runs = [run for run in runs if run[0].seconds]
        models = list(dict.fromkeys(m for session, _, _ in runs for m in session.models))
        tops: dict[str, list[np.ndarray]] = {"fps": [], "latency_p50_ms": []}
        end = 1.0
        for session, suffix, style in runs:
            t = session.second_times()
            # The last second is usually a fraction of one: its rate comes from a handful of frames.
            keep = np.array([row.duration_s >= 0.5 for row in session.seconds]) | (len(t) == 1)
            end = max(end, float(t[-1] + 0.5))
            for model in session.models:
                i = models.index(model)
                fps = session.model_series(model, "fps")[keep]
                latency = session.model_series(model, "latency_p50_ms")[keep]
                # Every model sees every frame, so their rates coincide: earlier lines are drawn wider to stay visible.
                wide = pg.mkPen(model_colour(i), width=2 + 2 * (len(session.models) - 1 - session.models.index(model)), style=style)
                item = self.fps_plot.plot(t[keep], fps, pen=wide, connect="finite")
                self.latency_plot.plot(t[keep], latency, pen=pg.mkPen(model_colour(i), width=2, style=style), connect="finite")
                self.legend.addItem(item, model + suffix)
                tops["fps"].append(fps)
                tops["latency_p50_ms"].append(latency)
        self._fit_legend()
        for plot, key in ((self.fps_plot, "fps"), (self.latency_plot, "latency_p50_ms")):
            plot.setXRange(0, end, padding=0.01)
            top = _finite_max(tops[key])
            if math.isfinite(top) and top > 0:
                # A margin below zero keeps the "0" tick label, which sits exactly on the edge otherwise.
                y_max = nice_ceil(top * 1.05)
                plot.setYRange(-0.04 * y_max, y_max, padding=0)

    def _fit_legend(self) -> None:
        assert self.legend is not None
        # A layout stretches its items to the row height; the legend's rows would drift apart.
        hint = self.legend.layout.effectiveSizeHint(Qt.SizeHint.PreferredSize)
        self.legend.setMaximumSize(hint)
        self.legend.setMinimumSize(hint)


def _finite_max(arrays: list[np.ndarray]) -> float:
    values = [a[np.isfinite(a)] for a in arrays]
    values = [v for v in values if len(v)]
    return float(max(v.max() for v in values)) if values else math.nan
