"""Live plots (pyqtgraph): persistent plot items updated with setData a few times a second.

GUI thread only. Reads snapshots from LiveStats and the metrics hub; never
waits on the pipeline.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QGraphicsItem, QVBoxLayout, QWidget

from segview.metrics.hub import MetricSeries, energy_per_frame_mj
from segview.metrics.live import LiveStats
from segview.metrics.samplers import is_power_key
from segview.types import StageTimings
from segview.ui.plot_ranges import StickyRange

pg.setConfigOptions(antialias=True, background=(250, 250, 252), foreground=(60, 64, 72))

MODEL_PENS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)]
STAGE_COLOURS = {
    "capture_ms": (148, 103, 189),
    "queue_ms": (188, 189, 34),
    "preprocess_ms": (23, 190, 207),
    "inference_ms": (31, 119, 180),
    "postprocess_ms": (255, 127, 14),
}
STAGE_LABELS = {"capture_ms": "capture", "queue_ms": "queue", "preprocess_ms": "pre", "inference_ms": "inference", "postprocess_ms": "post"}


AXIS_WIDTH_PX = 48  # room for "2500" in the tick font plus the rotated axis label
AXIS_HEIGHT_PX = 34
_TICK_FONT = QFont()
_TICK_FONT.setPointSizeF(7.5)


def _short_label(label: str) -> str:
    """'CPU package power (RAPL)' -> 'RAPL': the part a user recognises."""
    if "(" in label and label.endswith(")"):
        return label[label.rindex("(") + 1 : -1]
    return label.split()[0]


class StableAxis(pg.AxisItem):
    """An axis that keeps its picture when its view re-announces the range it already has.

    pyqtgraph's AxisItem redraws on every setRange, and a ViewBox re-sends its range
    on many updates that do not change it (about ten a second per plot here), which
    would defeat the pixmap cache below.
    """

    def setRange(self, mn: float, mx: float) -> None:  # noqa: N802 - pyqtgraph's name
        if getattr(self, "range", None) == [mn, mx]:  # unset while AxisItem.__init__ runs
            return
        super().setRange(mn, mx)


def _plot(layout: pg.GraphicsLayout, row: int, col: int, title: str, y_label: str, *, x_label: str = "seconds") -> pg.PlotItem:
    plot = layout.addPlot(
        row=row, col=col, title=f"<span style='font-size:9pt'>{title}</span>", axisItems={"left": StableAxis("left"), "bottom": StableAxis("bottom")}
    )
    plot.setLabel("left", f"<span style='font-size:8pt'>{y_label}</span>")
    plot.setLabel("bottom", f"<span style='font-size:8pt'>{x_label}</span>")
    for axis in ("left", "bottom"):
        item = plot.getAxis(axis)
        item.setStyle(tickFont=_TICK_FONT)
        # Painting an axis replays its tick labels' text drawing (1.2 ms per axis, GIL held,
        # every time anything in the canvas repaints: 25 of a full repaint's 31 ms). Cached
        # as a pixmap, it is redrawn only when its ticks change.
        item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    # Fixed sizes: an axis that fits itself to its tick labels re-runs the whole canvas's
    # layout whenever a label's width changes, which resizes every plot and throws the
    # cached axis pictures away (measured: ~100 axis resizes a second).
    plot.getAxis("left").setWidth(AXIS_WIDTH_PX)
    plot.getAxis("bottom").setHeight(AXIS_HEIGHT_PX)
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.setMenuEnabled(False)
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()
    return plot


class PlotsPanel(QWidget):
    """FPS per model, stacked stage latency, latency histogram, IoU between two views, and system metrics."""

    def __init__(self, live: LiveStats, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.live = live
        self.canvas = pg.GraphicsLayoutWidget()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        g = self.canvas.ci
        # Two rows of five: a dashboard under the videos.
        self.fps_plot = _plot(g, 0, 0, "Frames per second", "FPS")
        self.fps_plot.addLegend(offset=(-5, 5), labelTextSize="8pt")
        self.stage_plot = _plot(g, 0, 1, "Latency per stage (first model)", "ms")
        # Five stages: in three columns on a translucent card, so the legend covers little of the curves.
        self.stage_plot.addLegend(offset=(-5, 5), labelTextSize="8pt", colCount=3, brush=(250, 250, 252, 200))
        self.hist_plot = _plot(g, 0, 2, "Latency histogram", "frames", x_label="ms")
        self.iou_plot = _plot(g, 0, 3, "IoU of compared views", "IoU")
        self.iou_plot.setYRange(0, 1, padding=0.05)  # room for the 1.0 tick label at the top
        self.lag_plot = _plot(g, 0, 4, "Window event-loop delay", "ms")
        self.cpu_plot = _plot(g, 1, 0, "Process CPU", "% of a core")
        self.rss_plot = _plot(g, 1, 1, "Resident memory", "MB")
        self.clock_plot = _plot(g, 1, 2, "CPU clock", "MHz")
        self.power_plot = _plot(g, 1, 3, "Power", "W")
        self.power_plot.addLegend(offset=(-5, 5), labelTextSize="8pt")
        self.energy_plot = _plot(g, 1, 4, "Energy per frame", "mJ")
        for plot in self._time_plots():
            plot.setXRange(-60, 0, padding=0.01)

        self._fps_curves: dict[str, pg.PlotDataItem] = {}
        self._stage_curves: dict[str, pg.PlotDataItem] = {}
        self._stage_fills: list[pg.FillBetweenItem] = []
        baseline = self.stage_plot.plot([], [], pen=None)
        previous = baseline
        for stage in StageTimings.STAGES:
            curve = self.stage_plot.plot([], [], pen=pg.mkPen(STAGE_COLOURS[stage], width=1), name=STAGE_LABELS[stage])
            fill = pg.FillBetweenItem(previous, curve, brush=pg.mkBrush(*STAGE_COLOURS[stage], 150))
            self.stage_plot.addItem(fill)
            self._stage_curves[stage] = curve
            self._stage_fills.append(fill)
            previous = curve
        self._stage_baseline = baseline
        self._hist = self.hist_plot.plot([0, 1], [0], stepMode="center", fillLevel=0, brush=(31, 119, 180, 160), pen=pg.mkPen((31, 119, 180)))
        self._iou_curve = self.iou_plot.plot([], [], pen=pg.mkPen((44, 160, 44), width=2))
        self._system_curves: dict[str, pg.PlotDataItem] = {}
        self._unavailable: dict[int, pg.TextItem] = {}
        self._lag_curve = self.lag_plot.plot([], [], pen=pg.mkPen((214, 39, 40), width=2))
        self._energy = self.energy_plot.plot([], [], pen=pg.mkPen((140, 86, 75), width=2))
        # Ranges that move only when the data needs it (plot_ranges.py); the rest stay fixed.
        self._y_ranges = {id(p): StickyRange(from_zero=p not in (self.rss_plot, self.clock_plot)) for p in self._followed_plots()}
        self._hist_x = StickyRange()

    def _followed_plots(self) -> list[pg.PlotItem]:
        return [self.fps_plot, self.stage_plot, self.hist_plot, self.lag_plot, self.cpu_plot, self.rss_plot, self.clock_plot, self.power_plot, self.energy_plot]

    def _follow(self, *plots: pg.PlotItem) -> None:
        """Set each plot's y range from its data, if the sticky range says it must move."""
        for plot in plots:
            label = self._unavailable.get(id(plot))
            if label is not None and label.isVisible():
                continue  # "unavailable" keeps its fixed 0..1 frame
            bounds = plot.getViewBox().childrenBounds()[1]
            if bounds is None:
                continue
            moved = self._y_ranges[id(plot)].update(float(bounds[0]), float(bounds[1]))
            if moved is not None:
                plot.setYRange(*moved, padding=0)

    def _time_plots(self) -> list[pg.PlotItem]:
        return [self.fps_plot, self.stage_plot, self.iou_plot, self.cpu_plot, self.rss_plot, self.clock_plot, self.power_plot, self.energy_plot, self.lag_plot]

    # -- updates (GUI thread, a few times a second) ---------------------------

    PARTS = 3

    def refresh(self, models: list[str], system: dict[str, MetricSeries], lag: tuple[np.ndarray, np.ndarray] | None = None, *, part: int | None = None) -> None:
        """Redraw everything, or one of ``PARTS`` groups of plots (``part``).

        Redrawing a third at a time keeps each pause of the event loop short: all
        ten plots at once would hold the GUI thread for tens of milliseconds.
        ``system`` is the metrics hub's snapshot (absolute perf_counter times).
        """
        now = time.perf_counter()
        if part in (None, 0):
            self._refresh_models(models)
            self._follow(self.fps_plot, self.stage_plot, self.hist_plot)
        if part in (None, 1):
            t, iou = self.live.iou_series(now)
            self._iou_curve.setData(t, iou)
            if lag is not None:
                self._lag_curve.setData(*lag)
            self._follow(self.lag_plot)
        if part in (None, 2):
            first = self.live.series(models[0], now) if models else None
            self._refresh_system(system, first, now)
            self._follow(self.cpu_plot, self.rss_plot, self.clock_plot, self.power_plot, self.energy_plot)

    def _refresh_models(self, models: list[str]):
        """Returns the first model's series (for energy per frame), or None."""
        for name in list(self._fps_curves):
            if name not in models:
                self.fps_plot.removeItem(self._fps_curves.pop(name))
        first = None
        for i, name in enumerate(models):
            series = self.live.series(name)
            if name not in self._fps_curves:
                pen = pg.mkPen(MODEL_PENS[i % len(MODEL_PENS)], width=2)
                self._fps_curves[name] = self.fps_plot.plot([], [], pen=pen, name=name)
            if series is None:
                self._fps_curves[name].setData([], [])
                continue
            self._fps_curves[name].setData(series.seconds, series.fps, connect="finite")
            if first is None:
                first = series
        if first is None:
            for curve in self._stage_curves.values():
                curve.setData([], [])
            self._stage_baseline.setData([], [])
            self._hist.setData([0, 1], [0])
            return None
        total = np.zeros_like(first.seconds)
        self._stage_baseline.setData(first.seconds, total.copy())
        for stage, curve in self._stage_curves.items():
            total = total + np.nan_to_num(first.stage_medians[stage])
            curve.setData(first.seconds, total.copy())
        if first.recent_latencies.size:
            # Start-up outliers would squash the histogram: bin up to the 99th percentile.
            top = float(np.percentile(first.recent_latencies, 99)) * 1.2 or 1.0
            counts, edges = np.histogram(np.minimum(first.recent_latencies, top), bins=30, range=(0.0, top))
            self._hist.setData(edges, counts)
            moved = self._hist_x.update(0.0, top)
            if moved is not None:
                self.hist_plot.setXRange(*moved, padding=0)
        return first

    def _refresh_system(self, system: dict[str, MetricSeries], first, now: float) -> None:
        targets = {"cpu_percent": self.cpu_plot, "rss_mb": self.rss_plot, "cpu_mhz": self.clock_plot}
        power = [series for key, series in system.items() if is_power_key(key)]
        for i, series in enumerate(system.values()):
            plot = targets.get(series.key) or (self.power_plot if is_power_key(series.key) else None)
            if plot is None or not series.available:
                continue
            curve = self._system_curves.get(series.key)
            if curve is None:
                colour = MODEL_PENS[i % len(MODEL_PENS)]
                curve = plot.plot([], [], pen=pg.mkPen(colour, width=2), name=series.label if plot is self.power_plot else None)
                self._system_curves[series.key] = curve
            curve.setData(series.t - now, series.values, connect="finite")
        energy_available = self._refresh_energy(power, first, now)
        # A plot whose metrics this machine does not expose says so, instead of showing zeros.
        for plot, group in (
            (self.cpu_plot, [system.get("cpu_percent")]),
            (self.rss_plot, [system.get("rss_mb")]),
            (self.clock_plot, [system.get("cpu_mhz")]),
            (self.power_plot, power),
        ):
            present = [s for s in group if s is not None]
            if any(s.available for s in present):
                self._set_unavailable(plot, None)
            else:
                missing = " · ".join(_short_label(s.label) for s in present)
                self._set_unavailable(plot, "unavailable on this machine" + (f"\n({missing})" if missing else ""))
        self._set_unavailable(self.energy_plot, None if energy_available else "needs a power reading\n(unavailable on this machine)")

    def _refresh_energy(self, power: list[MetricSeries], first, now: float) -> bool:
        """mJ per frame of the first model, from the phone's power when frames come from a phone
        (its own energy is what matters then), else the first power reading the machine has."""
        readable = [p for p in power if p.available and np.isfinite(p.values).any()]
        source = next((p for p in readable if p.key.startswith("phone_")), readable[0] if readable else None)
        if source is None or first is None:
            self._energy.setData([], [])
            return source is not None
        t = source.t - now
        fps = np.interp(t, first.seconds, np.nan_to_num(first.fps), left=np.nan, right=np.nan)
        energy = np.array([energy_per_frame_mj(w, f) if np.isfinite(w) and np.isfinite(f) else None for w, f in zip(source.values, fps)], dtype=float)
        self._energy.setData(t, energy, connect="finite")
        return True

    def _set_unavailable(self, plot: pg.PlotItem, text: str | None) -> None:
        item = self._unavailable.get(id(plot))
        if text is None:
            if item is not None:
                item.setVisible(False)
            return
        if item is None:
            item = pg.TextItem(color=(120, 120, 130), anchor=(0.5, 0.5))
            plot.addItem(item, ignoreBounds=True)
            self._unavailable[id(plot)] = item
        item.setText(text)
        item.setPos(-30, 0.5)
        plot.setYRange(0, 1)
        item.setVisible(True)
