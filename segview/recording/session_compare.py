"""Comparing two recorded sessions, model by model: the same metrics on both sides and their ratio b / a.

A ratio that cannot be computed (a model missing from one side, a value
never measured, a zero below the line) is None with the reason in words,
so a table can say why instead of printing a broken cell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from segview.recording.session_file import ModelSummary, RecordedSession
from segview.recording.session_reader import load_session


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    label: str
    unit: str
    higher_is_better: bool


COMPARED_METRICS = (
    Metric("fps", "FPS", "frames/s", True),
    Metric("latency_p50", "latency p50", "ms", False),
    Metric("latency_p95", "latency p95", "ms", False),
    Metric("inference_p50", "inference p50", "ms", False),
)


def metric_value(model: ModelSummary | None, key: str) -> float | None:
    """One metric of one model's summary; None when the model or the value is missing."""
    if model is None:
        return None
    value = {
        "fps": model.fps,
        "latency_p50": model.latency_ms.p50,
        "latency_p95": model.latency_ms.p95,
        "inference_p50": model.inference_ms.p50,
    }[key]
    return None if value is None or math.isnan(value) else float(value)


@dataclass(frozen=True, slots=True)
class MetricCell:
    """One metric of one model in both sessions; ``why`` says why ``ratio`` is None."""

    a: float | None
    b: float | None
    ratio: float | None
    why: str | None


@dataclass(frozen=True, slots=True)
class ModelComparison:
    model: str
    cells: dict[str, MetricCell]  # by Metric.key


def compare_models(a: RecordedSession, b: RecordedSession) -> list[ModelComparison]:
    """Every model of either session (a's order first), each with every metric of COMPARED_METRICS."""
    out = []
    for name in _union(a.models, b.models):
        ma, mb = a.summary.model(name), b.summary.model(name)
        cells = {}
        for metric in COMPARED_METRICS:
            va, vb = metric_value(ma, metric.key), metric_value(mb, metric.key)
            ratio, why = _ratio_or_reason(va, vb, ma is None, mb is None)
            cells[metric.key] = MetricCell(va, vb, ratio, why)
        out.append(ModelComparison(name, cells))
    return out


def _union(first: tuple[str, ...], second: tuple[str, ...]) -> list[str]:
    return list(first) + [n for n in second if n not in first]


def _ratio_or_reason(a: float | None, b: float | None, missing_a: bool, missing_b: bool) -> tuple[float | None, str | None]:
    if missing_a or missing_b:
        return None, f"the model is not in session {'A' if missing_a else 'B'}"
    if a is None or b is None:
        return None, f"session {'A' if a is None else 'B'} has no value for it"
    if a == 0:
        return None, "session A's value is 0"
    return b / a, None


# -- the two-figure comparison that `segview` has offered since the first release ----------


@dataclass(frozen=True, slots=True)
class ComparisonRow:
    """One model in two sessions; ratios are b / a (fps ratio above 1 = b faster, latency ratio below 1 = b faster)."""

    model: str
    fps_a: float | None
    fps_b: float | None
    fps_ratio: float | None
    latency_p50_a: float | None
    latency_p50_b: float | None
    latency_p50_ratio: float | None


def compare_sessions(a: RecordedSession | Path, b: RecordedSession | Path) -> list[ComparisonRow]:
    """Per model present in either session (a's order first); None where a model is missing from one."""
    a = a if isinstance(a, RecordedSession) else load_session(a)
    b = b if isinstance(b, RecordedSession) else load_session(b)
    rows = []
    for m in compare_models(a, b):
        fps, lat = m.cells["fps"], m.cells["latency_p50"]
        rows.append(ComparisonRow(m.model, fps.a, fps.b, fps.ratio, lat.a, lat.b, lat.ratio))
    return rows
