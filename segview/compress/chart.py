"""The Pareto view of a model's variants: accuracy against latency and against size, drawn with OpenCV.

Drawn here rather than in the GUI so the command line makes the same PNG;
only segview.ui may import Qt. Latency is plotted relative to the source
(each variant's side-by-side ratio), because absolute times from runs made at
different moments on a shared machine are not comparable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from segview.compress.report import REPORT_SUFFIX, CompressionReport, load_report

WIDTH, HEIGHT = 1280, 560
PANEL_W = WIDTH // 2
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 80, 30, 70, 70
FONT = cv2.FONT_HERSHEY_SIMPLEX
INK = (40, 40, 40)
GRID = (225, 225, 225)
FRONT = (40, 140, 40)
DOMINATED = (150, 150, 150)
SOURCE = (200, 90, 20)
HIGHLIGHT = (30, 30, 200)


@dataclass(frozen=True, slots=True)
class ChartPoint:
    label: str
    latency: float  # relative to the source
    size_kib: float  # zipped
    accuracy: float
    is_source: bool = False


def variant_reports(folder: Path, source_sha256: str, *, warn: Callable[[str], None]) -> list[CompressionReport]:
    """The reports in ``folder`` made from the same source file, for the chart.

    A report that cannot be read or holds what the chart cannot plot (hand-edited,
    truncated, from another tool) is skipped with a warning: it must not fail a run
    at its very end, after all the work.
    """
    found = []
    for path in sorted(folder.glob(f"*{REPORT_SUFFIX}")):
        try:
            report = load_report(path)
            _check_plottable(report)
            if report.source_sha256 == source_sha256 and (folder / report.file).is_file():
                found.append(report)
        except Exception as exc:  # any damage at all: JSON, types, values, even nesting too deep
            warn(f"skipped {path.name} in {folder} for the chart: not a readable report ({type(exc).__name__}: {str(exc)[:120]})")
    return found


def _check_plottable(report: CompressionReport) -> None:
    numbers: list[object] = [report.zip_bytes, report.source_zip_bytes]  # as read: checked here, not trusted
    for lat in report.latency:
        numbers += [lat.threads, lat.source_ms, lat.result_ms]
    if report.agreement_iou is not None:
        numbers.append(report.agreement_iou)
    gt = report.ground_truth
    if gt is not None:
        numbers += [gt.iou, gt.source_iou]
    for n in numbers:
        if isinstance(n, bool) or not isinstance(n, (int, float)) or not math.isfinite(n) or n < 0:
            raise ValueError(f"{n!r} is not a plottable figure")
    for text in (report.name, report.source_name, report.file):
        if not isinstance(text, str) or not text or "\0" in text:
            raise ValueError(f"{text!r} is not a name")


def points_from_reports(reports: Sequence[CompressionReport]) -> tuple[list[ChartPoint], str]:
    """The source plus every variant; accuracy is ground-truth IoU when every report has it on the same images."""
    if not reports:
        return [], ""
    first = reports[0]
    gt_dirs = {(r.ground_truth.images_dir, r.ground_truth.masks_dir) if r.ground_truth else None for r in reports}
    use_gt = None not in gt_dirs and len(gt_dirs) == 1
    points = []
    for r in reports:
        lat = r.latency_for(1) or (r.latency[0] if r.latency else None)
        rel = lat.result_ms / lat.source_ms if lat and lat.source_ms > 0 else 1.0
        acc = r.ground_truth.iou if use_gt and r.ground_truth else (r.agreement_iou if r.agreement_iou is not None else float("nan"))
        points.append(ChartPoint(r.name, rel, r.zip_bytes / 1024.0, acc))
    source_acc = first.ground_truth.source_iou if use_gt and first.ground_truth else 1.0
    points.insert(0, ChartPoint(first.source_name, 1.0, first.source_zip_bytes / 1024.0, source_acc, True))
    return points, ("IoU vs ground truth" if use_gt else "IoU vs the source's masks")


def pareto_front(points: Sequence[ChartPoint], x: str) -> list[int]:
    """Indices of points no other point beats on both x (lower is better) and accuracy (higher is better)."""
    front = []
    for i, p in enumerate(points):
        px, pa = getattr(p, x), p.accuracy
        dominated = any(
            (getattr(q, x) <= px and q.accuracy >= pa) and (getattr(q, x) < px or q.accuracy > pa)
            for j, q in enumerate(points)
            if j != i and not np.isnan(q.accuracy)
        )
        if not dominated and not np.isnan(pa):
            front.append(i)
    return front


def render(points: Sequence[ChartPoint], *, accuracy_label: str, title: str, highlight: str | None = None) -> np.ndarray:
    canvas = np.full((HEIGHT, WIDTH, 3), 255, np.uint8)
    cv2.putText(canvas, title, (MARGIN_L, 32), FONT, 0.8, INK, 2, cv2.LINE_AA)
    _panel(canvas, 0, points, "latency", "latency relative to the source (1 thread)", accuracy_label, highlight)
    _panel(canvas, PANEL_W, points, "size_kib", "zipped size (KiB)", accuracy_label, highlight)
    return canvas


def encode_png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise RuntimeError("OpenCV could not encode the chart")
    return data.tobytes()


def _panel(canvas: np.ndarray, x0: int, points: Sequence[ChartPoint], attr: str, x_label: str, y_label: str, highlight: str | None) -> None:
    left, right = x0 + MARGIN_L, x0 + PANEL_W - MARGIN_R
    top, bottom = MARGIN_T, HEIGHT - MARGIN_B
    xs = np.array([getattr(p, attr) for p in points], dtype=float)
    ys = np.array([p.accuracy for p in points], dtype=float)
    valid = ~np.isnan(ys)
    if not valid.any():
        cv2.putText(canvas, "no accuracy figures", (left + 20, (top + bottom) // 2), FONT, 0.6, INK, 1, cv2.LINE_AA)
        return
    x_lo, x_hi = _range(xs[valid], floor_zero=attr == "size_kib")
    y_lo, y_hi = _range(ys[valid])

    def to_px(xv: float, yv: float) -> tuple[int, int]:
        px = left + (xv - x_lo) / (x_hi - x_lo) * (right - left)
        py = bottom - (yv - y_lo) / (y_hi - y_lo) * (bottom - top)
        return int(round(px)), int(round(py))

    steps = np.linspace(0, 1, TICKS)
    for t, x_text, y_text in zip(steps, tick_labels(x_lo, x_hi), tick_labels(y_lo, y_hi), strict=True):
        gx = int(left + t * (right - left))
        gy = int(bottom - t * (bottom - top))
        cv2.line(canvas, (gx, top), (gx, bottom), GRID, 1)
        cv2.line(canvas, (left, gy), (right, gy), GRID, 1)
        cv2.putText(canvas, x_text, (gx - 18, bottom + 20), FONT, 0.42, INK, 1, cv2.LINE_AA)
        cv2.putText(canvas, y_text, (x0 + 12, gy + 4), FONT, 0.42, INK, 1, cv2.LINE_AA)
    cv2.rectangle(canvas, (left, top), (right, bottom), INK, 1)
    cv2.putText(canvas, x_label, (left + 10, HEIGHT - 22), FONT, 0.55, INK, 1, cv2.LINE_AA)
    cv2.putText(canvas, y_label, (left + 6, top - 10), FONT, 0.55, INK, 1, cv2.LINE_AA)
    front = pareto_front(points, attr)
    chain = sorted(front, key=lambda i: getattr(points[i], attr))
    for a, b in zip(chain, chain[1:], strict=False):
        pa, pb = to_px(xs[a], ys[a]), to_px(xs[b], ys[b])
        # A staircase: between two front points the better accuracy holds until the next point's x.
        corner = (pb[0], pa[1])
        cv2.line(canvas, pa, corner, FRONT, 2, cv2.LINE_AA)
        cv2.line(canvas, corner, pb, FRONT, 2, cv2.LINE_AA)
    for i, p in enumerate(points):
        if np.isnan(ys[i]):
            continue
        centre = to_px(xs[i], ys[i])
        colour = SOURCE if p.is_source else (FRONT if i in front else DOMINATED)
        cv2.circle(canvas, centre, 7 if p.label == highlight else 5, colour, -1, cv2.LINE_AA)
        if p.label == highlight:
            cv2.circle(canvas, centre, 10, HIGHLIGHT, 2, cv2.LINE_AA)
        (text_w, _), _ = cv2.getTextSize(p.label, FONT, 0.42, 1)
        # Labels near the right edge go on the left of their point, so they stay inside the panel.
        tx = centre[0] + 9 if centre[0] + 9 + text_w < x0 + PANEL_W - 4 else centre[0] - 9 - text_w
        cv2.putText(canvas, p.label, (tx, centre[1] - 7 - 14 * (i % 2)), FONT, 0.42, colour, 1, cv2.LINE_AA)


def _range(values: np.ndarray, *, floor_zero: bool = False) -> tuple[float, float]:
    lo, hi = float(values.min()), float(values.max())
    if floor_zero:
        lo = 0.0
    span = hi - lo
    pad = span * 0.12 if span > 0 else max(abs(hi) * 0.05, 0.01)
    return (lo if floor_zero else lo - pad), hi + pad


TICKS = 6
MAX_DECIMALS = 6


def tick_labels(lo: float, hi: float, count: int = TICKS) -> list[str]:
    """Labels for ``count`` evenly spaced ticks from ``lo`` to ``hi``, with enough decimals that
    neighbours read differently: IoUs of 0.9993 and 1.0 on one axis were all "1.000" at three."""
    step = (hi - lo) / (count - 1) if count > 1 else 0.0
    needed = min(MAX_DECIMALS, max(0, math.ceil(-math.log10(step)))) if step > 0 else 0
    return [_fmt(float(v), needed) for v in np.linspace(lo, hi, count)]


def _fmt(v: float, at_least: int = 0) -> str:
    if abs(v) >= 100:
        decimals = 0
    elif abs(v) >= 10:
        decimals = 1
    else:
        decimals = 3 if abs(v) < 1.5 else 2
    return f"{v:.{max(decimals, at_least)}f}"
