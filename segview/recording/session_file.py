"""The session folder format: its files, their rows as types, the summary computed from the rows.

A session folder holds

    settings.json   the settings the run used
    machine.json    CPU, cores, OS, onnxruntime version and providers
    frames.csv      one row per frame per model (FRAME_COLUMNS)
    seconds.jsonl   one JSON line per second: per-model fps and p50s, the latest system metrics
    summary.json    written when the recording stops; missing if the run crashed

The recorder writes it (``recorder.py``); everything here only reads it or
computes from rows, so the report and a comparison never need the recorder.
Reading one back, tolerant of damage, is ``session_reader``'s job.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from segview.metrics.hub import energy_per_frame_mj
from segview.metrics.samplers import is_power_key
from segview.metrics.stats import Percentiles, median, rate, rounded
from segview.types import StageTimings

SETTINGS_FILE = "settings.json"
MACHINE_FILE = "machine.json"
FRAMES_FILE = "frames.csv"
SECONDS_FILE = "seconds.jsonl"
SUMMARY_FILE = "summary.json"

TIMING_COLUMNS = (*StageTimings.STAGES, "end_to_end_ms")
# Sessions recorded before the timeline traces lack the last two columns (which worker ran the frame,
# and when capture handed it over, seconds since the start); they still read, with those unknown.
LEGACY_FRAME_COLUMNS = ("frame", "model", "t_s", *TIMING_COLUMNS)
FRAME_COLUMNS = (*LEGACY_FRAME_COLUMNS, "worker", "captured_s")


@dataclass(frozen=True, slots=True)
class FrameRows:
    """One model's per-frame rows as columns; ``t_s`` is when the frame finished, seconds since the start.

    ``worker`` (the pipeline worker's index, -1 unknown) and ``captured_s`` (when capture handed the
    frame over, seconds since the start, NaN unknown) are None for sessions recorded before they existed.
    """

    frame: np.ndarray
    t_s: np.ndarray
    timings_ms: dict[str, np.ndarray]
    worker: np.ndarray | None = None
    captured_s: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.frame)

    @classmethod
    def from_lists(
        cls,
        frame: list[int],
        t_s: list[float],
        timings: Mapping[str, list[float]],
        worker: list[int] | None = None,
        captured_s: list[float] | None = None,
    ) -> FrameRows:
        return cls(
            np.asarray(frame, dtype=np.int64),
            np.asarray(t_s, dtype=np.float64),
            {c: np.asarray(timings[c], dtype=np.float64) for c in TIMING_COLUMNS},
            None if worker is None else np.asarray(worker, dtype=np.int64),
            None if captured_s is None else np.asarray(captured_s, dtype=np.float64),
        )


@dataclass(frozen=True, slots=True)
class SecondModel:
    frames: int
    fps: float | None
    latency_p50_ms: float | None
    inference_p50_ms: float | None
    stage_p50_ms: dict[str, float | None]


@dataclass(frozen=True, slots=True)
class SecondRow:
    """One second of the run: ``second`` counts from 0; ``duration_s`` is below 1 only for the last."""

    second: int
    duration_s: float
    models: dict[str, SecondModel]
    metrics: dict[str, float | None]

    def as_dict(self) -> dict[str, Any]:
        return {
            "second": self.second,
            "duration_s": rounded(self.duration_s),
            "models": {
                name: {
                    "frames": m.frames,
                    "fps": rounded(m.fps),
                    "latency_p50_ms": rounded(m.latency_p50_ms),
                    "inference_p50_ms": rounded(m.inference_p50_ms),
                    "stage_p50_ms": {k: rounded(v) for k, v in m.stage_p50_ms.items()},
                }
                for name, m in self.models.items()
            },
            "metrics": {k: rounded(v) for k, v in self.metrics.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SecondRow:
        models = {
            name: SecondModel(
                frames=int(m.get("frames", 0)),
                fps=_optional(m.get("fps")),
                latency_p50_ms=_optional(m.get("latency_p50_ms")),
                inference_p50_ms=_optional(m.get("inference_p50_ms")),
                stage_p50_ms={k: _optional(v) for k, v in m.get("stage_p50_ms", {}).items()},
            )
            for name, m in data.get("models", {}).items()
        }
        metrics = {k: _optional(v) for k, v in data.get("metrics", {}).items()}
        return cls(int(data["second"]), float(data.get("duration_s", 1.0)), models, metrics)


@dataclass(frozen=True, slots=True)
class ModelSummary:
    model: str
    frames: int
    fps: float
    latency_ms: Percentiles
    inference_ms: Percentiles
    stage_medians_ms: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "fps": rounded(self.fps),
            "latency_ms": self.latency_ms.as_dict(),
            "inference_ms": self.inference_ms.as_dict(),
            "stage_medians_ms": {k: rounded(v) for k, v in self.stage_medians_ms.items()},
        }

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> ModelSummary:
        return cls(
            model=name,
            frames=int(data["frames"]),
            fps=_num(data.get("fps")),
            latency_ms=_percentiles(data.get("latency_ms", {})),
            inference_ms=_percentiles(data.get("inference_ms", {})),
            stage_medians_ms={k: _num(v) for k, v in data.get("stage_medians_ms", {}).items()},
        )


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """What summary.json holds. ``energy_per_frame_mj`` is per power metric, for one frame through every model.

    ``reconstructed`` is True when summary.json was missing and this was
    computed from frames.csv and seconds.jsonl (the run did not stop cleanly).
    """

    models: tuple[ModelSummary, ...]
    duration_s: float
    frames_dropped: int | None = None
    metrics_mean: dict[str, float | None] = field(default_factory=dict)
    energy_per_frame_mj: dict[str, float] = field(default_factory=dict)
    problem: str | None = None
    reconstructed: bool = False

    def model(self, name: str) -> ModelSummary | None:
        return next((m for m in self.models if m.model == name), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "models": {m.model: m.as_dict() for m in self.models},
            "duration_s": rounded(self.duration_s),
            "frames_dropped": self.frames_dropped,
            "metrics_mean": {k: rounded(v) for k, v in self.metrics_mean.items()},
            "energy_per_frame_mj": {k: rounded(v) for k, v in self.energy_per_frame_mj.items()},
            "problem": self.problem,
            "reconstructed": self.reconstructed,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SessionSummary:
        return cls(
            models=tuple(ModelSummary.from_dict(name, m) for name, m in data["models"].items()),
            duration_s=_num(data.get("duration_s")),
            frames_dropped=data.get("frames_dropped"),
            metrics_mean=dict(data.get("metrics_mean", {})),
            energy_per_frame_mj={k: v for k, v in data.get("energy_per_frame_mj", {}).items() if v is not None},
            problem=data.get("problem"),
            reconstructed=bool(data.get("reconstructed", False)),
        )


def _optional(value: Any) -> float | None:
    """A number or None; anything else raises (the line is damaged)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"not a number: {value!r}")
    return float(value)


def _num(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _percentiles(data: Mapping[str, Any]) -> Percentiles:
    return Percentiles(_num(data.get("p50")), _num(data.get("p95")), _num(data.get("p99")))


def summarise(
    frames: Mapping[str, FrameRows],
    *,
    duration_s: float,
    metric_values: Mapping[str, list[float]] | None = None,
    frames_dropped: int | None = None,
    problem: str | None = None,
    reconstructed: bool = False,
) -> SessionSummary:
    """The summary of a run from its rows; ``metric_values`` holds every reading of each metric (None left out)."""
    models = tuple(summarise_model(name, rows) for name, rows in frames.items())
    means = {key: (float(np.mean(v)) if len(v) else None) for key, v in (metric_values or {}).items()}
    # Every model runs on every frame, so one frame's energy covers all of them:
    # divide by the rate at which frames finished, not by a model's own rate.
    frame_rate = _frame_rate(frames)
    energy = {}
    for key, power in means.items():
        mj = energy_per_frame_mj(power, frame_rate) if is_power_key(key) else None
        if mj is not None:
            energy[key] = mj
    return SessionSummary(models, duration_s, frames_dropped, means, energy, problem, reconstructed)


def summarise_model(name: str, rows: FrameRows) -> ModelSummary:
    """FPS, latency percentiles and stage medians of one model's rows (``segview bench`` uses it too)."""
    return ModelSummary(
        model=name,
        frames=len(rows),
        # As lists: the summaries take sequences of floats, and the columns are float64 arrays.
        fps=rate(rows.t_s.tolist()),
        latency_ms=Percentiles.of(rows.timings_ms["end_to_end_ms"].tolist()),
        inference_ms=Percentiles.of(rows.timings_ms["inference_ms"].tolist()),
        stage_medians_ms={stage: median(rows.timings_ms[stage].tolist()) for stage in StageTimings.STAGES},
    )


def _frame_rate(frames: Mapping[str, FrameRows]) -> float:
    done: dict[int, float] = {}
    for rows in frames.values():
        for index, t in zip(rows.frame.tolist(), rows.t_s.tolist(), strict=True):
            done[index] = max(t, done.get(index, t))
    return rate(list(done.values()))


# -- reading ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordedSession:
    folder: Path
    settings: dict[str, Any]
    machine: dict[str, Any]
    summary: SessionSummary
    frames: dict[str, FrameRows]
    seconds: tuple[SecondRow, ...]
    problems: tuple[str, ...] = ()  # what could not be read, one sentence each; empty for a clean session

    @property
    def models(self) -> tuple[str, ...]:
        names = [m.model for m in self.summary.models]
        return tuple(names + [n for n in self.frames if n not in names])

    @property
    def metric_keys(self) -> tuple[str, ...]:
        keys: dict[str, None] = {}
        for row in self.seconds:
            keys.update(dict.fromkeys(row.metrics))
        return tuple(keys)

    def second_times(self) -> np.ndarray:
        """The middle of each recorded second, seconds since the start: the x axis of per-second series."""
        return np.array([row.second + row.duration_s / 2 for row in self.seconds], dtype=np.float64)

    def model_series(self, model: str, field_name: str) -> np.ndarray:
        """One per-second value of a model (``fps``, ``latency_p50_ms``, ...) or a stage p50 by stage name; NaN where missing."""
        out = []
        for row in self.seconds:
            m = row.models.get(model)
            value = None
            if m is not None:
                value = m.stage_p50_ms.get(field_name) if field_name in StageTimings.STAGES else getattr(m, field_name)
            out.append(math.nan if value is None else value)
        return np.array(out, dtype=np.float64)

    def metric_series(self, key: str) -> np.ndarray:
        return np.array([_nan(row.metrics.get(key)) for row in self.seconds], dtype=np.float64)


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)
