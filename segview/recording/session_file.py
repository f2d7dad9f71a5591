"""The session folder format: its files, the summary computed from its rows, loading and comparing.

A session folder holds

    settings.json   the settings the run used
    machine.json    CPU, cores, OS, onnxruntime version and providers
    frames.csv      one row per frame per model (FRAME_COLUMNS)
    seconds.jsonl   one JSON line per second: per-model fps and p50s, the latest system metrics
    summary.json    written when the recording stops; missing if the run crashed

The recorder writes it (``recorder.py``); everything here only reads it or
computes from rows, so the report and a comparison never need the recorder.
Reading is tolerant: a damaged line, row or model entry is skipped (or
recomputed from the rows) and named in ``RecordedSession.problems``, so one
bad byte does not hide the rest of a run.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from segview.errors import SegviewError
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
FRAME_COLUMNS = ("frame", "model", "t_s", *TIMING_COLUMNS)


@dataclass(frozen=True, slots=True)
class FrameRows:
    """One model's per-frame rows as columns; ``t_s`` is when the frame finished, seconds since the start."""

    frame: np.ndarray
    t_s: np.ndarray
    timings_ms: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.frame)

    @classmethod
    def from_lists(cls, frame: list[int], t_s: list[float], timings: Mapping[str, list[float]]) -> FrameRows:
        return cls(
            np.asarray(frame, dtype=np.int64),
            np.asarray(t_s, dtype=np.float64),
            {c: np.asarray(timings[c], dtype=np.float64) for c in TIMING_COLUMNS},
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
        fps=rate(rows.t_s),
        latency_ms=Percentiles.of(rows.timings_ms["end_to_end_ms"]),
        inference_ms=Percentiles.of(rows.timings_ms["inference_ms"]),
        stage_medians_ms={stage: median(rows.timings_ms[stage]) for stage in StageTimings.STAGES},
    )


def _frame_rate(frames: Mapping[str, FrameRows]) -> float:
    done: dict[int, float] = {}
    for rows in frames.values():
        for index, t in zip(rows.frame.tolist(), rows.t_s.tolist()):
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


def load_session(folder: Path) -> RecordedSession:
    """Read a session folder; a missing summary (a crashed run) is computed from the rows.

    Raises SegviewError only when the folder is not a session at all (no
    folder, no frames.csv, unreadable settings.json); damage inside is listed
    in ``problems`` instead.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SegviewError(f"{folder} is not a recorded session: no such folder")
    if not (folder / FRAMES_FILE).is_file():
        raise SegviewError(f"{folder} is not a recorded session: it has no {FRAMES_FILE}")
    problems: list[str] = []
    settings = _read_json(folder / SETTINGS_FILE, required=True)
    if not isinstance(settings, dict):
        raise SegviewError(f"{folder / SETTINGS_FILE} is damaged (not a JSON object)")
    machine = _read_optional_json(folder / MACHINE_FILE, problems)
    frames = _read_frames(folder / FRAMES_FILE, problems)
    seconds = _read_seconds(folder / SECONDS_FILE, problems)
    summary = _load_summary(folder / SUMMARY_FILE, frames, seconds, problems)
    return RecordedSession(folder, settings, machine, summary, frames, seconds, tuple(problems))


def _read_optional_json(path: Path, problems: list[str]) -> dict[str, Any]:
    """A JSON object that the session can do without: damage is a problem, not an error."""
    try:
        data = _read_json(path, required=False)
    except SegviewError as exc:
        problems.append(str(exc))
        return {}
    if data is not None and not isinstance(data, dict):
        problems.append(f"{path.name} is damaged (not a JSON object)")
        return {}
    return data or {}


def _load_summary(
    path: Path, frames: Mapping[str, FrameRows], seconds: tuple[SecondRow, ...], problems: list[str]
) -> SessionSummary:
    """summary.json as written, with damaged model entries recomputed from the rows; rebuilt if it is missing or unusable."""
    try:
        raw = _read_json(path, required=False)
    except SegviewError as exc:
        problems.append(f"{exc}; summary computed from the rows")
        return _reconstruct_summary(frames, seconds)
    if raw is None:
        return _reconstruct_summary(frames, seconds)
    if not isinstance(raw, dict) or not isinstance(raw.get("models"), dict):
        problems.append(f"{path.name} is damaged (no table of models); summary computed from the rows")
        return _reconstruct_summary(frames, seconds)
    models = []
    for name, entry in raw["models"].items():
        try:
            models.append(ModelSummary.from_dict(name, entry))
        except (KeyError, TypeError, ValueError, AttributeError):
            note = f"{path.name}: the entry of model {name!r} is damaged"
            if name in frames and len(frames[name]):
                models.append(summarise_model(name, frames[name]))
                note += "; recomputed from frames.csv"
            problems.append(note)
    try:
        summary = SessionSummary.from_dict({**raw, "models": {}})
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        problems.append(f"{path.name} is damaged ({exc}); summary computed from the rows")
        return _reconstruct_summary(frames, seconds)
    return _with_models(summary, tuple(models))


def _with_models(summary: SessionSummary, models: tuple[ModelSummary, ...]) -> SessionSummary:
    return SessionSummary(models, summary.duration_s, summary.frames_dropped, summary.metrics_mean,
                          summary.energy_per_frame_mj, summary.problem, summary.reconstructed)


def _read_json(path: Path, *, required: bool) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise SegviewError(f"{path.parent} is not a complete recorded session: {path.name} is missing") from None
        return None
    except UnicodeDecodeError:
        raise SegviewError(f"{path} is damaged (not UTF-8 text)") from None
    except OSError as exc:
        raise SegviewError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SegviewError(f"{path} is damaged (not JSON: {exc.msg} at line {exc.lineno})") from None


def read_frames(path: Path) -> dict[str, FrameRows]:
    """Rows per model, in file order. A torn last line (the run died mid-write) and damaged rows are skipped."""
    return _read_frames(path, [])


def _read_frames(path: Path, problems: list[str]) -> dict[str, FrameRows]:
    columns: dict[str, tuple[list[int], list[float], dict[str, list[float]]]] = {}
    damaged = replaced = 0
    try:
        # Bytes that are not UTF-8 become U+FFFD: the rows around them still read.
        with open(path, newline="", encoding="utf-8", errors="replace") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                return {}
            if tuple(header) != FRAME_COLUMNS:
                raise SegviewError(f"{path} is not a segview frames file (its columns are {', '.join(header)})")
            pending = 0  # a bad row counts as damage only if a row follows it (else it is the torn last line)
            for row in reader:
                replaced += any("\ufffd" in cell for cell in row)
                parsed = _frame_row(row)
                if parsed is None:
                    pending += 1
                    continue
                damaged, pending = damaged + pending, 0
                model, index, t, values = parsed
                frame, times, timings = columns.setdefault(model, ([], [], {c: [] for c in TIMING_COLUMNS}))
                frame.append(index)
                times.append(t)
                for c, v in zip(TIMING_COLUMNS, values):
                    timings[c].append(v)
    except (OSError, csv.Error) as exc:
        raise SegviewError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if replaced:
        problems.append(f"{path.name} is not valid UTF-8 in {replaced} row(s); unreadable bytes were replaced")
    if damaged:
        problems.append(f"{path.name}: {damaged} damaged row(s) skipped")
    return {model: FrameRows.from_lists(*cols) for model, cols in columns.items()}


def _frame_row(row: list[str]) -> tuple[str, int, float, list[float]] | None:
    if len(row) != len(FRAME_COLUMNS):
        return None
    try:
        return row[1], int(row[0]), float(row[2]), [float(v) for v in row[3:]]
    except ValueError:
        return None


def read_seconds(path: Path) -> tuple[SecondRow, ...]:
    """Per-second rows; missing file = none. Damaged lines are skipped."""
    return _read_seconds(path, [])


def _read_seconds(path: Path, problems: list[str]) -> tuple[SecondRow, ...]:
    try:
        lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return ()
    except OSError as exc:
        raise SegviewError(f"cannot read {path}: {exc.strerror or exc}") from None
    rows, damaged = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(SecondRow.from_dict(json.loads(line)))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            if number != len(lines):  # the last line is torn when a run dies mid-write: not worth a word
                damaged.append(number)
    if damaged:
        where = ", ".join(map(str, damaged[:5])) + (", ..." if len(damaged) > 5 else "")
        problems.append(f"{path.name}: {len(damaged)} damaged line(s) skipped (line {where})")
    return tuple(rows)


def _reconstruct_summary(frames: Mapping[str, FrameRows], seconds: tuple[SecondRow, ...]) -> SessionSummary:
    ends = [rows.t_s.max() for rows in frames.values() if len(rows)]
    ends += [row.second + row.duration_s for row in seconds]
    metric_values: dict[str, list[float]] = {}
    for row in seconds:
        for key, value in row.metrics.items():
            metric_values.setdefault(key, [])
            if value is not None:
                metric_values[key].append(value)
    return summarise(
        frames,
        duration_s=float(max(ends)) if ends else 0.0,
        metric_values=metric_values,
        problem="the recording did not stop cleanly: summary computed from the rows",
        reconstructed=True,
    )
