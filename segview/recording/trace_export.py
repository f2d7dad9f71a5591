"""Timeline traces of a recorded session, in the Chrome JSON trace event format.

Perfetto's UI (ui.perfetto.dev) and chrome://tracing open the file. What it holds:

* a ``capture`` span per frame on the capture thread (capture runs once per frame, for every model);
* per frame and model, ``preprocess``, ``inference`` and ``postprocess`` spans ("X" events) on the
  worker thread that ran them, and a ``queue`` span (an async "b"/"e" pair: the waits of frames
  overlap, which spans on one thread may not) on a queue track per model;
* counter tracks ("C" events) from seconds.jsonl: FPS per model, CPU %, RSS, CPU clock and power
  (each only when the session recorded it);
* "M" events naming the process and threads.

Timestamps are microseconds since the recording started. frames.csv holds stage durations, when
capture handed the frame over (``captured_s``) and the worker: each model's stages end when its
end-to-end time says, back to back, in the order the worker ran the models. Sessions recorded before
``captured_s`` and ``worker`` existed get the capture time from the frame's finish time, and one
track per model instead of one per worker (a second track, "#2", where two workers overlapped).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segview.errors import SegviewError
from segview.fileio import atomic_write_bytes
from segview.metrics.samplers import is_power_key
from segview.recording.session_file import FRAMES_FILE, RecordedSession
from segview.recording.session_reader import load_session

TRACE_FILE = "trace.json"  # the default name, in the session folder (segview trace, the sessions browser)
PID = 1
CAPTURE_TID = 1
WORKER_TID = 100  # + the worker's index
MODEL_TID = 1000  # + 16 x the model's position + its overlap lane (sessions without a worker column)

SPAN_STAGES = ("preprocess_ms", "inference_ms", "postprocess_ms")  # run by the worker, in this order
STAGE_NAME = {"capture_ms": "capture", "queue_ms": "queue", "preprocess_ms": "preprocess", "inference_ms": "inference", "postprocess_ms": "postprocess"}
COUNTER_NAMES = {"cpu_percent": "CPU %", "rss_mb": "RSS (MB)", "cpu_mhz": "CPU clock (MHz)"}
POWER_COUNTER = "Power (W)"


@dataclass(frozen=True, slots=True)
class _Row:
    """One frames.csv row, in the terms a timeline needs (seconds since the start; worker -1 = unknown)."""

    frame: int
    model: str
    finished_s: float
    captured_s: float
    worker: int
    ms: dict[str, float]


@dataclass(frozen=True, slots=True)
class TraceCounts:
    """What a trace holds, for the command line to say and tests to check."""

    rows: int
    frames: int
    stage_spans: int  # preprocess + inference + postprocess: 3 per row
    queue_spans: int  # 1 per row
    capture_spans: int  # 1 per frame
    counter_events: int
    per_worker: bool  # False: an older session, one track per model


def session_trace(session_folder: Path) -> dict[str, Any]:
    """The trace of a recorded session as a JSON-ready dict; SegviewError if it is no session or has no frames."""
    return _build(Path(session_folder))[0]


def write_trace(folder: Path, out_path: Path) -> TraceCounts:
    """Write ``folder``'s trace to ``out_path`` atomically (all or nothing); returns what it holds."""
    out_path = Path(out_path)
    if out_path.is_dir():
        raise SegviewError(f"cannot write {out_path}: it is a folder (name a file, such as trace.json)")
    trace, counts = _build(Path(folder))
    atomic_write_bytes(out_path, json.dumps(trace, separators=(",", ":"), allow_nan=False).encode("utf-8"))
    return counts


def op_profile_trace(profile_events: Iterable[Mapping[str, Any]] | Mapping[str, Any]) -> dict[str, Any]:
    """onnxruntime's profile (``enable_profiling``'s file: a list of Chrome trace events) as a trace dict.

    The events are kept as they are (they are Chrome trace events already); ones without a phase or
    timestamp are dropped, and the process gets a name so the viewer shows what it is.
    """
    raw = profile_events.get("traceEvents", []) if isinstance(profile_events, Mapping) else profile_events
    events = [dict(e) for e in raw if isinstance(e, Mapping) and "ph" in e and ("ts" in e or e.get("ph") == "M")]
    pids = sorted({e.get("pid", 0) for e in events}, key=str)
    meta = [_meta("process_name", pid, 0, name="onnxruntime profile") for pid in pids]
    return {"traceEvents": meta + events, "displayTimeUnit": "ms"}


# -- building --------------------------------------------------------------------------


def _build(folder: Path) -> tuple[dict[str, Any], TraceCounts]:
    session = load_session(folder)
    rows = _rows(session)
    if not rows:
        raise SegviewError(f"{folder} has no frames to trace: its {FRAMES_FILE} holds no rows")
    per_worker = all(r.worker >= 0 for r in rows)
    threads: dict[int, str] = {CAPTURE_TID: "capture"}
    spans = _capture_spans(rows) + _worker_spans(rows, session.models, threads)
    spans = _no_overlaps(spans)
    queues = _queue_events(rows)
    counters = _counter_events(session)
    frames = len({r.frame for r in rows})
    meta = [_meta("process_name", PID, 0, name=f"segview session {folder.name}")]
    for order, (tid, name) in enumerate(sorted(threads.items())):
        meta += [_meta("thread_name", PID, tid, name=name), _meta("thread_sort_index", PID, tid, sort_index=order)]
    # A frame captured just before the recorder started has a negative time; viewers want none.
    offset_us = _shift_to_zero(spans + queues + counters)
    trace = {
        "traceEvents": meta + spans + queues + counters,
        "displayTimeUnit": "ms",
        "otherData": {
            "session": str(folder),
            "source": str(session.settings.get("source", "")),
            "models": list(session.models),
            "recorded_at": str(session.machine.get("recorded_at", "")),
            "frame_rows": len(rows),
            "frames": frames,
            "tracks": "per worker" if per_worker else "per model (this session did not record its workers)",
            "recording_started_at_us": offset_us,
        },
    }
    counts = TraceCounts(len(rows), frames, 3 * len(rows), len(rows), frames, len(counters), per_worker)
    return trace, counts


def _rows(session: RecordedSession) -> list[_Row]:
    """Every frame row, frames in order and within a frame the models in the order the worker ran them."""
    rows = []
    for model, cols in session.frames.items():
        for i in range(len(cols)):
            worker = int(cols.worker[i]) if cols.worker is not None else -1
            captured = float(cols.captured_s[i]) if cols.captured_s is not None else math.nan
            ms = {c: float(v[i]) for c, v in cols.timings_ms.items()}
            rows.append(_Row(int(cols.frame[i]), model, float(cols.t_s[i]), captured, worker, ms))
    order = {name: i for i, name in enumerate(session.models)}
    rows.sort(key=lambda r: (r.frame, order.get(r.model, len(order))))
    return _with_capture_times(rows)


def _with_capture_times(rows: list[_Row]) -> list[_Row]:
    """Older rows have no capture time: the frame's last model finished when the frame did."""
    by_frame: dict[int, float] = {}
    for r in rows:
        if math.isnan(r.captured_s):
            guess = r.finished_s - (r.ms["end_to_end_ms"] - r.ms["capture_ms"]) / 1e3
            by_frame[r.frame] = min(guess, by_frame.get(r.frame, guess))
    if not by_frame:
        return rows
    return [_Row(r.frame, r.model, r.finished_s, by_frame[r.frame], r.worker, r.ms) if math.isnan(r.captured_s) else r for r in rows]


def _capture_spans(rows: list[_Row]) -> list[dict[str, Any]]:
    first: dict[int, _Row] = {}
    for r in rows:
        first.setdefault(r.frame, r)
    return [_span("capture", "capture", CAPTURE_TID, r.captured_s - r.ms["capture_ms"] / 1e3, r.ms["capture_ms"], {"frame": r.frame}) for r in first.values()]


def _worker_spans(rows: list[_Row], models: tuple[str, ...], threads: dict[int, str]) -> list[dict[str, Any]]:
    """Preprocess, inference and postprocess of each row, ending at the row's end-to-end time."""
    lanes: dict[str, list[float]] = {}  # per model, when each of its overlap lanes is free again
    spans = []
    for r in rows:
        end_s = r.captured_s + (r.ms["end_to_end_ms"] - r.ms["capture_ms"]) / 1e3
        start_s = end_s - sum(r.ms[s] for s in SPAN_STAGES) / 1e3
        if r.worker >= 0:
            tid = WORKER_TID + r.worker
            threads[tid] = f"worker {r.worker}"
        else:
            tid = _model_lane(r.model, models, start_s, end_s, lanes, threads)
        t = start_s
        for stage in SPAN_STAGES:
            spans.append(_span(f"{STAGE_NAME[stage]} · {r.model}", STAGE_NAME[stage], tid, t, r.ms[stage], {"frame": r.frame, "model": r.model}))
            t += r.ms[stage] / 1e3
    return spans


def _model_lane(model: str, models: tuple[str, ...], start_s: float, end_s: float, lanes: dict[str, list[float]], threads: dict[int, str]) -> int:
    """The first of the model's tracks free at ``start_s`` (a new one if none is): spans on a track never overlap."""
    free_at = lanes.setdefault(model, [])
    lane = next((i for i, t in enumerate(free_at) if t <= start_s + 5e-6), len(free_at))
    if lane == len(free_at):
        free_at.append(end_s)
    free_at[lane] = end_s
    position = models.index(model) if model in models else len(models)
    tid = MODEL_TID + 16 * position + min(lane, 15)
    threads[tid] = model if lane == 0 else f"{model} #{lane + 1}"
    return tid


def _no_overlaps(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Times come from values rounded to a microsecond: trim a span that starts inside the one before it on its thread."""
    spans.sort(key=lambda e: (e["tid"], e["ts"]))
    previous_end: dict[int, float] = {}
    for e in spans:
        end = e["ts"] + e["dur"]
        start = max(e["ts"], previous_end.get(e["tid"], e["ts"]))
        e["ts"], e["dur"] = round(start, 3), round(max(0.0, end - start), 3)
        previous_end[e["tid"]] = max(end, start)
    spans.sort(key=lambda e: e["ts"])
    return spans


def _queue_events(rows: list[_Row]) -> list[dict[str, Any]]:
    """The wait of each row before a worker took its frame: async spans, which may overlap."""
    events = []
    for r in rows:
        start = round(r.captured_s * 1e6, 3)
        common = {"name": f"queue · {r.model}", "cat": "queue", "pid": PID, "tid": CAPTURE_TID, "id": f"{r.frame}/{r.model}"}
        events.append({**common, "ph": "b", "ts": start, "args": {"frame": r.frame, "model": r.model}})
        events.append({**common, "ph": "e", "ts": round(start + r.ms["queue_ms"] * 1e3, 3)})
    return events


def _counter_events(session: RecordedSession) -> list[dict[str, Any]]:
    """One counter event per recorded second and track, at the second's start; missing values left out."""
    events = []
    for row in session.seconds:
        ts = round(row.second * 1e6, 3)
        groups: dict[str, dict[str, float]] = {}
        fps = {m: v.fps for m, v in row.models.items() if v.fps is not None}
        if fps:
            groups["FPS"] = fps
        for key, value in row.metrics.items():
            if value is None or not math.isfinite(value):
                continue
            name = POWER_COUNTER if is_power_key(key) else COUNTER_NAMES.get(key, key)
            groups.setdefault(name, {})[key] = value
        events += [{"name": name, "ph": "C", "ts": ts, "pid": PID, "tid": 0, "args": args} for name, args in groups.items()]
    return events


def _shift_to_zero(events: list[dict[str, Any]]) -> float:
    offset = max(0.0, -min(e["ts"] for e in events))
    if offset:
        for e in events:
            e["ts"] = round(e["ts"] + offset, 3)
    return offset


def _span(name: str, stage: str, tid: int, start_s: float, dur_ms: float, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "cat": stage, "ph": "X", "ts": start_s * 1e6, "dur": max(0.0, dur_ms * 1e3), "pid": PID, "tid": tid, "args": args}


def _meta(kind: str, pid: int, tid: int, **args: Any) -> dict[str, Any]:
    return {"name": kind, "ph": "M", "pid": pid, "tid": tid, "ts": 0, "args": args}
