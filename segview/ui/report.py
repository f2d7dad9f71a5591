"""Drawing a recorded session's report plots with Qt: PNG plots beside report.html and report.md.

The plots are drawn with pyqtgraph offscreen and saved with its
ImageExporter, so the report looks like the studio's own plots. The text and
the all-or-nothing folder are ``segview.recording.report_writer``'s, which
needs no Qt; this module only adds the figures (and a QApplication to draw
them with).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter
from pyqtgraph.Qt import QtCore, QtGui, QtWidgets

from segview.metrics.samplers import describe_key, is_power_key
from segview.recording.recorder import MIN_RATE_SPAN_S
from segview.recording.report_writer import HEIGHT, WIDTH, Figure, stage_name, write_report
from segview.recording.session_file import RecordedSession
from segview.types import StageTimings
from segview.ui.palette import MODEL_COLOURS, css

__all__ = ["HEIGHT", "PALETTE", "WIDTH", "export_report"]

# The studio's colour-blind-safe model colours, in the same order, so a report reads like the dashboard.
PALETTE = tuple(css(c) for c in MODEL_COLOURS)
STAGE_COLOURS = {
    "capture_ms": "#9aa5b1",
    "queue_ms": "#f2c14e",
    "preprocess_ms": "#4f9dd9",
    "inference_ms": "#1f4e8c",
    "postprocess_ms": "#5fb37a",
}
TEXT = "#222222"
AXIS = "#555555"

_app: QtWidgets.QApplication | None = None  # keeps a QApplication we created alive


def export_report(session_folder: Path, out_folder: Path | None = None) -> Path:
    """Write the report of ``session_folder`` into ``out_folder`` (default: ``<session>/report``); returns it.

    Runs on the GUI thread of its process (it draws with Qt widgets); without
    a QApplication it creates one, offscreen when there is no display. The
    studio calls it in a child process (``report_child``), so its own GUI
    thread never waits. An existing ``out_folder`` is replaced only if it is
    empty or holds an earlier report.
    """
    return write_report(session_folder, out_folder, draw_figures=_draw_figures)


def _ensure_app() -> None:
    global _app
    if QtWidgets.QApplication.instance() is not None:
        return
    # Without a display Qt would abort the process; offscreen draws the same pixels.
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM")):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    _app = QtWidgets.QApplication([])


# -- figures ------------------------------------------------------------------------


def _draw_figures(session: RecordedSession, folder: Path) -> list[Figure]:
    _ensure_app()
    figures: list[Figure] = []
    drawers: list[Callable[[RecordedSession, Path], list[Figure]]] = [
        _fps_figure,
        _stage_figures,
        _histogram_figure,
        _system_figures,
        _power_figure,
    ]
    for draw in drawers:
        figures += draw(session, folder)
    return figures


class _Canvas:
    """One plot of WIDTH x HEIGHT pixels on a white background, drawn without showing a window."""

    def __init__(self, title: str, x_label: str, y_label: str, *, legend: bool = True) -> None:
        self.widget = pg.GraphicsLayoutWidget()
        self.widget.setBackground("w")
        self.layout = self.widget.ci
        self.layout.setContentsMargins(10, 10, 20, 10)
        self.plot: pg.PlotItem = self.layout.addPlot()
        self.plot.setTitle(title, color=TEXT, size="13pt")
        font = QtGui.QFont()
        font.setPointSizeF(10)
        for side, label in (("bottom", x_label), ("left", y_label)):
            axis = self.plot.getAxis(side)
            axis.setPen(pg.mkPen(AXIS))
            axis.setTextPen(pg.mkPen(TEXT))
            axis.setStyle(tickFont=font, tickLength=-6)
            axis.enableAutoSIPrefix(False)  # the unit is in the label text; "kms" would be nonsense
            axis.setLabel(label, color=TEXT, **{"font-size": "11pt"})
            # Major and labelled ticks only: the finest grid level makes the plot look like graph paper.
            axis.setStyle(maxTickLevel=1)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.legend: pg.LegendItem | None = None
        if legend:
            # In its own column beside the plot, so it never hides data.
            self.legend = pg.LegendItem(labelTextColor=TEXT, labelTextSize="10pt", verSpacing=-4)
            self.layout.addItem(self.legend, row=0, col=1)
            self.layout.layout.setColumnStretchFactor(0, 1)
            self.layout.layout.setColumnStretchFactor(1, 0)
            self.layout.layout.setAlignment(self.legend, QtCore.Qt.AlignmentFlag.AlignTop)

    def line(
        self, x: np.ndarray, y: np.ndarray, colour: str, name: str | None, *, width: float = 2.0, style: QtCore.Qt.PenStyle = QtCore.Qt.PenStyle.SolidLine
    ) -> None:
        pen = pg.mkPen(colour, width=width, style=style)
        # A single point would not show as a line: mark the points when there are few.
        symbol = "o" if np.isfinite(y).sum() <= 3 else None
        item = self.plot.plot(x, y, pen=pen, connect="finite", antialias=True, symbol=symbol, symbolSize=6, symbolBrush=colour, symbolPen=None)
        self.add_to_legend(item, name)

    def add_to_legend(self, item: pg.GraphicsObject, name: str | None) -> None:
        if name is not None and self.legend is not None:
            self.legend.addItem(item, name)

    def save(self, path: Path, *, x_range: tuple[float, float] | None = None, y_max: float | None = None) -> None:
        if x_range is not None:
            self.plot.setXRange(*x_range, padding=0.01)
        if y_max is not None and math.isfinite(y_max) and y_max > 0:
            # A margin below zero keeps the "0" tick label, which sits exactly on the edge otherwise.
            self.plot.setYRange(-0.04 * y_max, y_max * 1.1, padding=0)
        if self.legend is not None:
            # A layout stretches its items to the row height; the legend's rows would drift apart.
            hint = self.legend.layout.effectiveSizeHint(QtCore.Qt.SizeHint.PreferredSize)
            self.legend.setMaximumSize(hint)
            self.legend.setMinimumSize(hint)
        self.layout.setGeometry(QtCore.QRectF(0, 0, WIDTH, HEIGHT))
        exporter = ImageExporter(self.layout)
        exporter.parameters()["width"] = WIDTH
        exporter.parameters()["height"] = HEIGHT
        exporter.parameters()["antialias"] = True
        exporter.export(str(path))
        self.widget.deleteLater()


def _finite_max(*arrays: np.ndarray) -> float:
    values = [a[np.isfinite(a)] for a in arrays if len(a)]
    values = [v for v in values if len(v)]
    return float(max(v.max() for v in values)) if values else math.nan


def _per_second(session: RecordedSession) -> tuple[np.ndarray, np.ndarray]:
    """x values of the per-second series and which seconds to plot.

    The last second of a run is usually a fraction of one; under half a
    second its medians come from a handful of frames and only add a jump.
    """
    durations = np.array([row.duration_s for row in session.seconds], dtype=np.float64)
    keep = durations >= MIN_RATE_SPAN_S
    if not keep.any():
        keep[:] = True
    return session.second_times(), keep


def _time_range(session: RecordedSession) -> tuple[float, float]:
    return 0.0, max(1.0, float(session.summary.duration_s) if math.isfinite(session.summary.duration_s) else 1.0)


def _fps_figure(session: RecordedSession, folder: Path) -> list[Figure]:
    if not session.seconds:
        return []
    t, keep = _per_second(session)
    t = t[keep]
    canvas = _Canvas("Frames per second, per model", "Time since start (s)", "Frames per second")
    series = []
    models = session.models
    for i, model in enumerate(models):
        fps = session.model_series(model, "fps")[keep]
        series.append(fps)
        # Every model sees every frame, so their rates coincide: earlier lines are drawn wider to stay visible.
        canvas.line(t, fps, PALETTE[i % len(PALETTE)], model, width=2.0 + 2.0 * (len(models) - 1 - i))
    canvas.save(folder / "fps.png", x_range=_time_range(session), y_max=_finite_max(*series))
    return [Figure("fps.png", "Frames finished each second, per model.")]


def _stage_figures(session: RecordedSession, folder: Path) -> list[Figure]:
    if not session.seconds:
        return []
    t, keep = _per_second(session)
    t = t[keep]
    # Each bar spans most of its second; the last, partial second gets a narrower bar.
    widths = np.array([row.duration_s for row in session.seconds])[keep] * (0.8 if len(t) <= 60 else 1.0)
    figures = []
    for i, model in enumerate(session.models):
        end_to_end = session.model_series(model, "latency_p50_ms")[keep]
        if not np.isfinite(end_to_end).any():
            continue
        canvas = _Canvas(f"Latency by stage: {model} (median of each second)", "Time since start (s)", "Latency (ms)")
        bottom = np.zeros(len(t))
        for stage in StageTimings.STAGES:
            height = np.nan_to_num(session.model_series(model, stage)[keep], nan=0.0)
            bars = pg.BarGraphItem(x=t, height=height, y0=bottom.copy(), width=widths, brush=pg.mkBrush(STAGE_COLOURS[stage]), pen=pg.mkPen("w", width=0.5))
            canvas.plot.addItem(bars)
            canvas.add_to_legend(bars, stage_name(stage))
            bottom += height
        canvas.line(t, end_to_end, TEXT, "end to end", width=2.0, style=QtCore.Qt.PenStyle.DashLine)
        name = f"stages-{_slug(model, i)}.png"
        canvas.save(folder / name, x_range=_time_range(session), y_max=_finite_max(end_to_end, bottom))
        figures.append(
            Figure(
                name,
                f"{model}: median milliseconds in each stage per second, stacked; the dashed line is "
                "the median end-to-end latency (the gap above the bars is time spent waiting "
                "for other models and for delivery).",
            )
        )
    return figures


def _histogram_figure(session: RecordedSession, folder: Path) -> list[Figure]:
    latencies = {m: rows.timings_ms["end_to_end_ms"] for m, rows in session.frames.items() if len(rows)}
    if not latencies:
        return []
    everything = np.concatenate(list(latencies.values()))
    # The slowest 0.5 % would squeeze the rest into a few bins; they are counted in the caption.
    top = float(np.percentile(everything, 99.5))
    low = float(everything.min())
    if top <= low:
        top = low + 1.0
    edges = np.linspace(low, top, 61)
    canvas = _Canvas("End-to-end latency distribution", "End-to-end latency (ms)", "Frames")
    peak = 0.0
    for i, model in enumerate(session.models):
        values = latencies.get(model)
        if values is None:
            continue
        counts, _ = np.histogram(values, bins=edges)
        peak = max(peak, float(counts.max()))
        colour = PALETTE[i % len(PALETTE)]
        fill = QtGui.QColor(colour)
        fill.setAlpha(60)
        canvas.plot.plot(edges, counts, stepMode="center", fillLevel=0, fillBrush=pg.mkBrush(fill), pen=pg.mkPen(colour, width=2))
        # The legend draws a filled curve as a triangle; a swatch of the fill reads better.
        swatch = pg.BarGraphItem(x=[0], height=[0], width=0, brush=pg.mkBrush(fill), pen=pg.mkPen(colour, width=2))
        canvas.add_to_legend(swatch, model)
    canvas.save(folder / "latency-histogram.png", x_range=(low, top), y_max=peak)
    above = int((everything > top).sum())
    caption = "How many frames took how long, end to end, per model."
    if above:
        caption += f" {above} slowest frame(s) above {top:.1f} ms (the top 0.5 %) are not shown."
    return [Figure("latency-histogram.png", caption)]


def _system_figures(session: RecordedSession, folder: Path) -> list[Figure]:
    figures = []
    t, keep = _per_second(session)
    t = t[keep]
    cores = session.machine.get("cores")
    for key, file, title in (
        ("cpu_percent", "cpu.png", "Process CPU use (100 % = one core)"),
        ("rss_mb", "memory.png", "Process memory (resident)"),
        ("cpu_mhz", "cpu-clock.png", "CPU clock (average of all cores)"),
    ):
        values = session.metric_series(key)[keep]
        if not np.isfinite(values).any():
            continue
        label, unit = describe_key(key)
        canvas = _Canvas(title, "Time since start (s)", f"{label} ({unit})", legend=False)
        canvas.line(t, values, PALETTE[0], None)
        y_max = _finite_max(values)
        if key == "cpu_percent" and isinstance(cores, int) and cores > 0:
            # Where the machine runs out: every core busy.
            ceiling = 100.0 * cores
            canvas.plot.addItem(
                pg.InfiniteLine(
                    ceiling,
                    angle=0,
                    pen=pg.mkPen(AXIS, width=1, style=QtCore.Qt.PenStyle.DashLine),
                    label=f"all {cores} cores",
                    labelOpts={"color": AXIS, "position": 0.05},
                )
            )
            y_max = max(y_max, ceiling)
        canvas.save(folder / file, x_range=_time_range(session), y_max=y_max)
        figures.append(Figure(file, f"{label}: the latest reading in each second."))
    return figures


def _power_figure(session: RecordedSession, folder: Path) -> list[Figure]:
    keys = [k for k in session.metric_keys if is_power_key(k) and np.isfinite(session.metric_series(k)).any()]
    if not keys:
        return []
    t, keep = _per_second(session)
    t = t[keep]
    canvas = _Canvas("Power", "Time since start (s)", "Power (W)")
    series = []
    for i, key in enumerate(keys):
        values = session.metric_series(key)[keep]
        series.append(values)
        canvas.line(t, values, PALETTE[i % len(PALETTE)], describe_key(key)[0])
    canvas.save(folder / "power.png", x_range=_time_range(session), y_max=_finite_max(*series))
    return [Figure("power.png", "Power: the latest reading in each second.")]


def _slug(model: str, index: int) -> str:
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in model).strip("-")
    return slug or f"model-{index}"
