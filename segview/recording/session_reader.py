"""Reading a session folder back (see ``session_file`` for its files), tolerant of damage.

A damaged line, row or model entry is skipped (or recomputed from the rows)
and named in ``RecordedSession.problems``, so one bad byte does not hide the
rest of a run; only a folder that is no session at all is an error.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from segview.errors import SegviewError
from segview.recording.session_file import (
    FRAME_COLUMNS,
    FRAMES_FILE,
    LEGACY_FRAME_COLUMNS,
    MACHINE_FILE,
    SECONDS_FILE,
    SETTINGS_FILE,
    SUMMARY_FILE,
    TIMING_COLUMNS,
    FrameRows,
    ModelSummary,
    RecordedSession,
    SecondRow,
    SessionSummary,
    summarise,
    summarise_model,
)


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


def _load_summary(path: Path, frames: Mapping[str, FrameRows], seconds: tuple[SecondRow, ...], problems: list[str]) -> SessionSummary:
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
    return SessionSummary(
        models, summary.duration_s, summary.frames_dropped, summary.metrics_mean, summary.energy_per_frame_mj, summary.problem, summary.reconstructed
    )


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
    columns: dict[str, tuple[list[int], list[float], dict[str, list[float]], list[int], list[float]]] = {}
    damaged = replaced = 0
    try:
        # Bytes that are not UTF-8 become U+FFFD: the rows around them still read.
        with open(path, newline="", encoding="utf-8", errors="replace") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                return {}
            if tuple(header) not in (FRAME_COLUMNS, LEGACY_FRAME_COLUMNS):
                raise SegviewError(f"{path} is not a segview frames file (its columns are {', '.join(header)})")
            width = len(header)
            pending = 0  # a bad row counts as damage only if a row follows it (else it is the torn last line)
            for row in reader:
                replaced += any("\ufffd" in cell for cell in row)
                parsed = _frame_row(row, width)
                if parsed is None:
                    pending += 1
                    continue
                damaged, pending = damaged + pending, 0
                model, index, t, values, worker, captured = parsed
                frame, times, timings, workers, captures = columns.setdefault(model, ([], [], {c: [] for c in TIMING_COLUMNS}, [], []))
                frame.append(index)
                times.append(t)
                for c, v in zip(TIMING_COLUMNS, values, strict=True):
                    timings[c].append(v)
                workers.append(worker)
                captures.append(captured)
    except (OSError, csv.Error) as exc:
        raise SegviewError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if replaced:
        problems.append(f"{path.name} is not valid UTF-8 in {replaced} row(s); unreadable bytes were replaced")
    if damaged:
        problems.append(f"{path.name}: {damaged} damaged row(s) skipped")
    legacy = width == len(LEGACY_FRAME_COLUMNS)
    return {
        model: FrameRows.from_lists(frame, t, timings, None if legacy else workers, None if legacy else captures)
        for model, (frame, t, timings, workers, captures) in columns.items()
    }


def _frame_row(row: list[str], width: int) -> tuple[str, int, float, list[float], int, float] | None:
    """One row's values; the worker (-1) and capture time (NaN) are unknown in a legacy row."""
    if len(row) != width:
        return None
    timing_end = 3 + len(TIMING_COLUMNS)
    try:
        values = [float(v) for v in row[3:timing_end]]
        worker, captured = (int(row[timing_end]), float(row[timing_end + 1])) if width > timing_end else (-1, float("nan"))
        return row[1], int(row[0]), float(row[2]), values, worker, captured
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
