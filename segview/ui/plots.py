"""Live plots (pyqtgraph): persistent plot items updated with setData a few times a second.

GUI thread only. Reads snapshots from LiveStats and the metrics hub; never
waits on the pipeline. Colours come from palette.py (one per model, everywhere);
legends sit in the header row above the plots (dashboard_header.py), not on the data.
"""

from __future__ import annotations

import html
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFont, QPen
from PySide6.QtWidgets import QGraphicsItem, QVBoxLayout, QWidget

from segview.metrics.hub import MetricSeries, energy_per_frame_mj
from segview.metrics.live import LiveStats
from segview.metrics.samplers import is_power_key
from segview.types import StageTimings
from segview.ui.dashboard_header import DashboardHeader
from segview.ui.palette import MODEL_COLOURS, NEUTRAL, RGB, SERIES_COLOURS, STAGE_COLOURS, ModelPalette
from segview.ui.plot_ranges import StickyRange
from segview.ui.plot_titles import MUTED, TITLE_HEIGHT_PX, PlotTitles, title_min

pg.setConfigOptions(antialias=True, background=(250, 250, 252), foreground=(60, 64, 72))

# The unit is in each title, so the left axis needs room for its tick labels only ("2500", "0.96").
AXIS_WIDTH_PX = 38
AXIS_HEIGHT_PX = 34
COLUMNS = 5
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


# A line style per colour as well: curves of models running at the same rate lie on top of
# each other, and a dashed line lets the one beneath show through.
_DASHES = {MODEL_COLOURS[1]: [4, 2], MODEL_COLOURS[2]: [1, 2], MODEL_COLOURS[3]: [4, 2, 1, 2]}


def _model_pen(colour) -> QPen:
    pen = pg.mkPen(colour, width=2)
    if colour in _DASHES:
        pen.setDashPattern(_DASHES[colour])
    return pen


def _plot(layout: pg.GraphicsLayout, row: int, col: int, *, x_label: str = "seconds") -> pg.PlotItem:
    plot = layout.addPlot(row=row, col=col, axisItems={"left": StableAxis("left"), "bottom": StableAxis("bottom")})
    plot.setLabel("bottom", f"<span style='font-size:7.5pt'>{x_label}</span>")
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
    plot.setTitle(" ")
    plot.titleLabel.item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    # A title never widens its plot: the text is elided to the column instead (PlotTitles),
    # so ten titles cannot add up to more than the window (they did at 1280 px).
    plot.titleLabel.setMinimumWidth(0)
    plot.titleLabel.updateMin = lambda label=plot.titleLabel: title_min(label)
    plot.layout.setRowFixedHeight(0, TITLE_HEIGHT_PX)
    plot.titleLabel.setMaximumHeight(TITLE_HEIGHT_PX)
    return plot


def per_second_mean(t: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One point per second: the IoU comes every frame, and on an axis fitted to 0.93-0.99
    a minute of frame-by-frame jitter is a dense zigzag that takes twice the whole
    dashboard's other curves to draw (measured), and reads worse than its mean."""
    if t.size == 0:
        return t, values
    seconds = np.floor(t).astype(np.int64)
    first = seconds.min()
    sums = np.bincount(seconds - first, weights=values)
    counts = np.bincount(seconds - first)
    filled = counts > 0
    return (np.nonzero(filled)[0] + first + 0.5).astype(float), sums[filled] / counts[filled]


class PlotsPanel(QWidget):
    """FPS per model, stacked stage latency, latency histogram, IoU between two views, and system metrics."""

    PARTS = 3

    def __init__(self, live: LiveStats, palette: ModelPalette | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.live = live
        self.model_palette = palette or ModelPalette()  # not `palette`: that is QWidget.palette()
        self.header = DashboardHeader()
        self.header.focus_changed.connect(self._on_focus_changed)
        self.canvas = pg.GraphicsLayoutWidget()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        layout.addWidget(self.canvas, 1)
        self.titles = PlotTitles()
        g = self.canvas.ci
        # Two rows of five: a dashboard under the videos.
        self.fps_plot = _plot(g, 0, 0)
        self.stage_plot = _plot(g, 0, 1)
        self.hist_plot = _plot(g, 0, 2, x_label="ms")
        self.iou_plot = _plot(g, 0, 3)
        self.lag_plot = _plot(g, 0, 4)
        self.cpu_plot = _plot(g, 1, 0)
        self.rss_plot = _plot(g, 1, 1)
        self.clock_plot = _plot(g, 1, 2)
        self.power_plot = _plot(g, 1, 3)
        self.energy_plot = _plot(g, 1, 4)
        for plot in self._time_plots():
            plot.setXRange(-60, 0, padding=0.01)
        for plot, what, detail in (
            (self.fps_plot, "Frames per second (FPS)", "each ticked model"),
            (self.iou_plot, "IoU of compared views", "no pair compared"),
            (self.lag_plot, "Event-loop delay (ms)", "this window"),
            (self.cpu_plot, "Process CPU (% of a core)", "the studio"),
            (self.rss_plot, "Resident memory (MB)", "the studio"),
            (self.clock_plot, "CPU clock (MHz)", "this machine"),
            (self.power_plot, "Power (W)", "this machine"),
        ):
            self.titles.set(plot, what, detail)
        self._build_curves()
        # Ranges that move only when the data needs it (plot_ranges.py); the rest stay fixed.
        # IoU follows its data at both ends: 0.93-0.99 pinned to 0-1 was a flat line at the top.
        both_ends = (self.rss_plot, self.clock_plot, self.iou_plot)
        self._y_ranges = {id(p): StickyRange(from_zero=p not in both_ends) for p in self._followed_plots()}
        self._hist_x = StickyRange()
        self._models: list[str] = []
        self._focus: str | None = None
        self._show_models([], force=True)

    def _build_curves(self) -> None:
        """The persistent plot items, fed with setData at each refresh."""
        self._fps_curves: dict[str, pg.PlotDataItem] = {}
        self._stage_curves: dict[str, pg.PlotDataItem] = {}
        self._stage_fills: list[pg.FillBetweenItem] = []
        baseline = self.stage_plot.plot([], [], pen=None)
        previous = baseline
        for stage in StageTimings.STAGES:
            curve = self.stage_plot.plot([], [], pen=pg.mkPen(STAGE_COLOURS[stage], width=1))
            fill = pg.FillBetweenItem(previous, curve, brush=pg.mkBrush(*STAGE_COLOURS[stage], 170))
            self.stage_plot.addItem(fill)
            self._stage_curves[stage] = curve
            self._stage_fills.append(fill)
            previous = curve
        self._stage_baseline = baseline
        self._hist = self.hist_plot.plot([0, 1], [0], stepMode="center", fillLevel=0, brush=(*NEUTRAL, 160), pen=pg.mkPen(NEUTRAL))
        self._iou_curve = self.iou_plot.plot([], [], pen=pg.mkPen(NEUTRAL, width=2))
        self._system_curves: dict[str, pg.PlotDataItem] = {}
        self._unavailable: dict[int, pg.TextItem] = {}
        self._lag_curve = self.lag_plot.plot([], [], pen=pg.mkPen(NEUTRAL, width=2))
        self._energy = self.energy_plot.plot([], [], pen=pg.mkPen(NEUTRAL, width=2))

    def _followed_plots(self) -> list[pg.PlotItem]:
        return [
            self.fps_plot,
            self.stage_plot,
            self.hist_plot,
            self.iou_plot,
            self.lag_plot,
            self.cpu_plot,
            self.rss_plot,
            self.clock_plot,
            self.power_plot,
            self.energy_plot,
        ]

    def _time_plots(self) -> list[pg.PlotItem]:
        return [self.fps_plot, self.stage_plot, self.iou_plot, self.cpu_plot, self.rss_plot, self.clock_plot, self.power_plot, self.energy_plot, self.lag_plot]

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

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.titles.resize(self.width() / COLUMNS)
        super().resizeEvent(event)

    # -- which models (GUI thread, when they change) ---------------------------

    @property
    def focus_model(self) -> str | None:
        """The model the stage, histogram and energy plots show (named in their titles)."""
        return self._focus

    def set_focus_model(self, name: str) -> None:
        self.header.chooser.setCurrentText(name)

    def _on_focus_changed(self, _name: str) -> None:
        self._show_models(self._models, force=True)
        self._refresh_models(self._models)  # the chosen model's plots at once, not at the next redraw

    def set_pair(self, names: tuple[str, str] | None) -> None:
        """The two models the IoU plot compares (named in its title)."""
        if names is None:
            self.titles.set(self.iou_plot, "IoU of compared views", "no pair compared")
        else:
            a, b = names
            self.titles.set(self.iou_plot, "IoU of compared views", [(a, self.model_palette.colour(a)), ("vs", MUTED), (b, self.model_palette.colour(b))])

    def _show_models(self, models: list[str], *, force: bool = False) -> None:
        if models == self._models and not force:
            return
        self._models = list(models)
        colours = self.model_palette.show(models)
        self.header.set_models(colours)
        for name in list(self._fps_curves):
            if name not in colours:
                self.fps_plot.removeItem(self._fps_curves.pop(name))
        for name, colour in colours.items():
            curve = self._fps_curves.get(name)
            if curve is None:
                self._fps_curves[name] = self.fps_plot.plot([], [], pen=_model_pen(colour))
            elif curve.opts["pen"].color().getRgb()[:3] != colour:
                curve.setPen(_model_pen(colour))
        self._focus = self.header.focus()
        focus: list[tuple[str, RGB]] | str = "no model ticked"
        histogram: list[tuple[str, RGB]] | str = focus
        if self._focus:
            focus = [(self._focus, colours[self._focus])]
            histogram = [*focus, ("end-to-end", MUTED)]
        self.titles.set(self.stage_plot, "Latency per stage (ms)", focus)
        self.titles.set(self.hist_plot, "Latency histogram (ms)", histogram)
        self.titles.set(self.energy_plot, "Energy per frame (mJ)", focus)
        if self._focus:
            colour = colours[self._focus]
            self._hist.setPen(pg.mkPen(colour))
            self._hist.setBrush(pg.mkBrush(*colour, 150))
            self._energy.setPen(pg.mkPen(colour, width=2))

    # -- updates (GUI thread, a few times a second) ---------------------------

    def refresh(self, models: list[str], system: dict[str, MetricSeries], lag: tuple[np.ndarray, np.ndarray] | None = None, *, part: int | None = None) -> None:
        """Redraw everything, or one of ``PARTS`` groups of plots (``part``).

        Redrawing a third at a time keeps each pause of the event loop short: all
        ten plots at once would hold the GUI thread for tens of milliseconds.
        ``system`` is the metrics hub's snapshot (absolute perf_counter times).
        """
        now = time.perf_counter()
        self._show_models(models)
        if part in (None, 0):
            self._refresh_models(models)
            self._follow(self.fps_plot, self.stage_plot, self.hist_plot)
        if part in (None, 1):
            self._iou_curve.setData(*per_second_mean(*self.live.iou_series(now)))
            if lag is not None:
                self._lag_curve.setData(*lag)
            self._follow(self.iou_plot, self.lag_plot)
        if part in (None, 2):
            focus = self.live.series(self._focus, now) if self._focus else None
            self._refresh_system(system, focus, now)
            self._follow(self.cpu_plot, self.rss_plot, self.clock_plot, self.power_plot, self.energy_plot)

    def _refresh_models(self, models: list[str]) -> None:
        for name in models:
            series = self.live.series(name)
            if series is None:
                self._fps_curves[name].setData([], [])
            else:
                self._fps_curves[name].setData(series.seconds, series.fps, connect="finite")
        focus = self.live.series(self._focus) if self._focus else None
        if focus is None:
            for curve in self._stage_curves.values():
                curve.setData([], [])
            self._stage_baseline.setData([], [])
            self._hist.setData([0, 1], [0])
            return
        # Only the seconds the model ran: before it started the stack would read as 0 ms.
        ran = np.isfinite(focus.stage_medians["inference_ms"])
        seconds = focus.seconds[ran]
        total = np.zeros_like(seconds)
        self._stage_baseline.setData(seconds, total.copy())
        for stage, curve in self._stage_curves.items():
            total = total + np.nan_to_num(focus.stage_medians[stage][ran])
            curve.setData(seconds, total.copy())
        if focus.recent_latencies.size:
            # Start-up outliers would squash the histogram: bin up to the 99th percentile.
            top = float(np.percentile(focus.recent_latencies, 99)) * 1.2 or 1.0
            counts, edges = np.histogram(np.minimum(focus.recent_latencies, top), bins=30, range=(0.0, top))
            self._hist.setData(edges, counts)
            moved = self._hist_x.update(0.0, top)
            if moved is not None:
                self.hist_plot.setXRange(*moved, padding=0)

    def _refresh_system(self, system: dict[str, MetricSeries], focus, now: float) -> None:
        targets = {"cpu_percent": self.cpu_plot, "rss_mb": self.rss_plot, "cpu_mhz": self.clock_plot}
        power = [series for key, series in system.items() if is_power_key(key)]
        for series in system.values():
            plot = targets.get(series.key) or (self.power_plot if is_power_key(series.key) else None)
            if plot is None or not series.available:
                continue
            curve = self._system_curves.get(series.key)
            if curve is None:
                colour = SERIES_COLOURS[power.index(series) % len(SERIES_COLOURS)] if plot is self.power_plot else NEUTRAL
                curve = plot.plot([], [], pen=pg.mkPen(colour, width=2))
                self._system_curves[series.key] = curve
            curve.setData(series.t - now, series.values, connect="finite")
        self._title_power(power)
        energy_available = self._refresh_energy(power, focus, now)
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
                self._set_unavailable(plot, "not measured on this machine" + (f" ({missing})" if missing else ""))
        self._set_unavailable(self.energy_plot, None if energy_available else "needs a power reading (none on this machine)")

    def _title_power(self, power: list[MetricSeries]) -> None:
        """The power plot's legend is its title's second line: each rail's name in its colour."""
        shown = [(_short_label(s.label), SERIES_COLOURS[i % len(SERIES_COLOURS)]) for i, s in enumerate(power) if s.available]
        self.titles.set(self.power_plot, "Power (W)", shown or "this machine")

    def _refresh_energy(self, power: list[MetricSeries], focus, now: float) -> bool:
        """mJ per frame of the chosen model, from the phone's power when frames come from a phone
        (its own energy is what matters then), else the first power reading the machine has."""
        readable = [p for p in power if p.available and np.isfinite(p.values).any()]
        source = next((p for p in readable if p.key.startswith("phone_")), readable[0] if readable else None)
        if source is None or focus is None:
            self._energy.setData([], [])
            return source is not None
        t = source.t - now
        fps = np.interp(t, focus.seconds, np.nan_to_num(focus.fps), left=np.nan, right=np.nan)
        energy = np.array(
            [energy_per_frame_mj(w, f) if np.isfinite(w) and np.isfinite(f) else None for w, f in zip(source.values, fps, strict=True)], dtype=float
        )  # fps: sampled at source.t
        self._energy.setData(t, energy, connect="finite")
        return True

    def _set_unavailable(self, plot: pg.PlotItem, text: str | None) -> None:
        item = self._unavailable.get(id(plot))
        if text is None:
            if item is not None:
                item.setVisible(False)
            return
        if item is None:
            item = pg.TextItem(color=MUTED, anchor=(0.5, 0.5))
            plot.addItem(item, ignoreBounds=True)
            self._unavailable[id(plot)] = item
            # Wrapped to the plot's width, so a narrow plot shows all of it ("navailable on this machine").
            plot.getViewBox().sigResized.connect(lambda view, item=item: item.setTextWidth(max(40.0, view.width() - 8)))
            item.setTextWidth(max(40.0, plot.getViewBox().width() - 8))
        html_text = f"<div style='text-align:center; font-size:7.5pt'>{html.escape(text)}</div>"
        if item.toPlainText() != text:
            item.setHtml(html_text)
        item.setPos(-30, 0.5)
        plot.setYRange(0, 1)
        item.setVisible(True)
