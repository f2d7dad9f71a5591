"""SessionRecorder: writes a session folder (see ``session_file``) while the pipeline runs.

The pipeline's consumer thread and the metrics thread only append to lists
under a lock; the recorder's own thread turns them into lines and writes
and flushes them twice per ``flush_interval_s`` (1 s), so disk I/O never
stalls the pipeline and a crash loses at most the last second. A write error (a full
disk) is kept in ``problem``: the recorder stops writing, keeps the rows
already on disk, and never raises into the pipeline.
"""

from __future__ import annotations

import array
import contextlib
import csv
import io
import json
import math
import os
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from segview.errors import SegviewError
from segview.fileio import atomic_write_json, missing_folders, remove_empty_folders
from segview.metrics.hub import MetricsSample
from segview.metrics.process import machine_info
from segview.pipeline.pipeline import FrameResults
from segview.recording.session_file import (
    FRAME_COLUMNS,
    FRAMES_FILE,
    MACHINE_FILE,
    SECONDS_FILE,
    SETTINGS_FILE,
    SUMMARY_FILE,
    TIMING_COLUMNS,
    FrameRows,
    SecondModel,
    SecondRow,
    SessionSummary,
    summarise,
)
from segview.types import StageTimings

# (frame index, model, seconds since start, then TIMING_COLUMNS in order, worker index, captured seconds since start)
_Row = tuple[int, str, float, float, float, float, float, float, float, int, float]

MIN_RATE_SPAN_S = 0.5


class SessionRecorder:
    """Records one run into ``folder``: construct before the pipeline starts, ``stop()`` after it ends.

    Add it as a pipeline consumer (``__call__``) and as a MetricsHub
    subscriber (``on_metrics``). The constructor creates the folder and
    writes settings.json and machine.json, raising ``SegviewError`` if the
    folder already holds files or cannot be written.
    """

    def __init__(
        self,
        folder: Path,
        *,
        settings: dict[str, Any],
        models: Sequence[str],
        source: str,
        flush_interval_s: float = 1.0,
    ) -> None:
        self.folder = Path(folder)
        self.models = list(models)
        self.source = source
        self.problem: str | None = None
        self.summary: SessionSummary | None = None
        self._flush_interval = flush_interval_s
        created = _prepare_folder(self.folder)
        try:
            self._frames_file, self._seconds_file = self._start_files(settings)
        except SegviewError:
            _undo_start(self.folder, created)  # a recording that could not start leaves no folder or files behind
            raise

        self._t0 = time.perf_counter()
        self._lock = threading.Lock()  # pending rows and samples: pipeline, metrics and recorder threads
        self._io_lock = threading.Lock()  # the files: recorder thread and stop()
        self._pending_rows: list[_Row] = []
        self._pending_samples: list[tuple[float, dict[str, float | None]]] = []
        self._failed = False
        self._stopping = False
        # Recorder-thread state (and stop() once that thread has ended).
        self._next_second = 0
        self._open_seconds: dict[int, list[_Row]] = {}
        self._samples: list[tuple[float, dict[str, float | None]]] = []
        self._metrics_now: dict[str, float | None] = {}
        self._metric_values: dict[str, list[float]] = {}
        self._written: dict[str, _Columns] = {name: _Columns() for name in self.models}
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="segview-recorder", daemon=True)
        self._thread.start()

    def _start_files(self, settings: dict[str, Any]) -> tuple[TextIO, TextIO]:
        atomic_write_json(self.folder / SETTINGS_FILE, {"source": self.source, "models": self.models, **settings})
        machine = machine_info()
        if settings.get("provider"):
            machine["provider_used"] = settings["provider"]
        machine["recorded_at"] = datetime.now().astimezone().isoformat(timespec="seconds")
        atomic_write_json(self.folder / MACHINE_FILE, machine)
        opened: list[TextIO] = []
        try:
            # Not `with`: the two files stay open for the whole recording (_close_files closes them).
            opened.append(open(self.folder / FRAMES_FILE, "w", newline="", encoding="utf-8"))  # noqa: SIM115
            opened.append(open(self.folder / SECONDS_FILE, "w", encoding="utf-8"))  # noqa: SIM115
            opened[0].write(",".join(FRAME_COLUMNS) + "\n")
            opened[0].flush()
        except OSError as exc:
            for f in opened:
                with contextlib.suppress(OSError):
                    f.close()
            raise SegviewError(f"cannot record into {self.folder}: {exc.strerror or exc}") from None
        return opened[0], opened[1]

    # -- pipeline consumer thread ------------------------------------------------

    def __call__(self, bundle: FrameResults) -> None:
        """Queue one row per model for this frame (pipeline consumer thread; no disk I/O here)."""
        if self._failed or self._stopping:
            return
        t = bundle.completed_at - self._t0
        captured = bundle.frame.captured_at - self._t0  # with the worker, places the stages on a timeline (trace_export)
        rows = [(bundle.frame.index, r.model, t, *(getattr(r.timings, c) for c in TIMING_COLUMNS), bundle.worker, captured) for r in bundle.results]
        with self._lock:
            self._pending_rows.extend(rows)

    # -- metrics thread -----------------------------------------------------------

    def on_metrics(self, sample: MetricsSample) -> None:
        """Keep a MetricsHub sample for the per-second lines and the averages (metrics thread)."""
        if self._failed or self._stopping:
            return
        with self._lock:
            self._pending_samples.append((sample.t - self._t0, dict(sample.values)))

    # -- any thread -----------------------------------------------------------------

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self._t0

    def stop(self, *, frames_dropped: int | None = None) -> SessionSummary:
        """Write what is left and summary.json; call after the pipeline has finished (any thread but the pipeline's).

        Never raises for disk problems: they end up in ``problem`` (and in the summary).
        """
        if self.summary is not None:
            return self.summary
        self._stopping = True
        self._wake.set()
        self._thread.join()
        duration = self.elapsed_s
        self._drain(final=True, now=duration)
        self._close_files(sync=not self._failed)
        frames = {name: cols.rows() for name, cols in self._written.items()}
        summary = summarise(
            frames,
            duration_s=duration,
            metric_values=self._metric_values,
            frames_dropped=frames_dropped,
            problem=self.problem,
        )
        try:
            atomic_write_json(self.folder / SUMMARY_FILE, summary.as_dict())
        except SegviewError as exc:
            self.problem = self.problem or str(exc)
        self.summary = summary
        return summary

    # -- recorder thread --------------------------------------------------------------

    def _loop(self) -> None:
        # Draining twice per interval keeps what is on disk at most one interval behind,
        # and writes each second's line soon after the second ends.
        while not self._wake.wait(self._flush_interval / 2):
            if self._failed:
                return
            try:
                self._drain(final=False)
            except Exception as exc:  # a bug here must end the recording, not pass unnoticed in a dead thread
                self._failed = True
                self.problem = f"the recorder failed: {type(exc).__name__}: {exc}"
                return

    def _drain(self, *, final: bool, now: float | None = None) -> None:
        """Turn queued rows and samples into lines and write them (recorder thread, or stop() after it).

        ``final`` also writes the second in progress, ending at ``now``.
        """
        with self._lock:
            rows, self._pending_rows = self._pending_rows, []
            samples, self._pending_samples = self._pending_samples, []
        if self._failed:
            return
        now = self.elapsed_s if now is None else now
        self._samples.extend(sorted(samples, key=lambda s: s[0]))
        for _, values in samples:
            for key, value in values.items():
                bucket = self._metric_values.setdefault(key, [])
                if value is not None and not math.isnan(value):
                    bucket.append(value)
        for row in rows:
            # A row finishing after its second was written counts in the first open second.
            second = max(int(row[2]), self._next_second)
            self._open_seconds.setdefault(second, []).append(row)
        lines = []
        last_full = int(now)  # seconds before this one are over
        while self._next_second < last_full or (final and self._next_second <= last_full):
            second = self._next_second
            duration = 1.0 if second < last_full else now - second
            lines.append(json.dumps(self._second_row(second, duration).as_dict(), allow_nan=False) + "\n")
            self._next_second += 1
        if self._write(_csv_text(rows), "".join(lines)):
            for row in rows:
                self._written.setdefault(row[1], _Columns()).append(row)

    def _second_row(self, second: int, duration: float) -> SecondRow:
        rows = self._open_seconds.pop(second, [])
        end = second + duration
        while self._samples and self._samples[0][0] < end:
            self._metrics_now = self._samples.pop(0)[1]
        by_model: dict[str, list[_Row]] = {name: [] for name in self.models}
        for row in rows:
            by_model.setdefault(row[1], []).append(row)
        models = {name: _second_model(model_rows, duration) for name, model_rows in by_model.items()}
        return SecondRow(second, duration, models, dict(self._metrics_now))

    def _write(self, frames_text: str, seconds_text: str) -> bool:
        with self._io_lock:
            if self._failed:
                return False
            files = (self._frames_file, self._seconds_file)
            good = [os.fstat(f.fileno()).st_size for f in files]  # every earlier flush succeeded: whole rows only
            try:
                if frames_text:
                    self._frames_file.write(frames_text)
                    self._frames_file.flush()
                if seconds_text:
                    self._seconds_file.write(seconds_text)
                    self._seconds_file.flush()
            except OSError as exc:
                self._fail(exc, good)
                return False
            return True

    def _fail(self, exc: OSError, good_sizes: list[int]) -> None:
        self._failed = True
        # Worded to follow "recording stopped (...)" in the window and "segview: error: " on the command line.
        self.problem = f"cannot write to {self.folder} after {self.elapsed_s:.1f} s: {exc.strerror or exc}"
        self._close_files(sync=False)
        # A full disk takes part of a write: cut the files back to their last whole row, so they still parse.
        for name, size in zip((FRAMES_FILE, SECONDS_FILE), good_sizes, strict=True):  # one size per file
            with contextlib.suppress(OSError):
                os.truncate(self.folder / name, size)

    def _close_files(self, *, sync: bool) -> None:
        for f in (self._frames_file, self._seconds_file):
            try:
                if sync and not f.closed:
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as exc:
                if not self._failed:
                    self._failed = True
                    self.problem = f"cannot finish writing {self.folder}: {exc.strerror or exc}"
            with contextlib.suppress(OSError):  # the data that did not fit is lost either way; what was flushed stays
                f.close()


class _Columns:
    """Rows written so far for one model, as compact float arrays (a long run keeps millions)."""

    def __init__(self) -> None:
        self.frame = array.array("q")
        self.t = array.array("d")
        self.timings = {c: array.array("d") for c in TIMING_COLUMNS}
        self.worker = array.array("q")
        self.captured = array.array("d")

    def append(self, row: _Row) -> None:
        frame, _model, t, *timings, worker, captured = row
        self.frame.append(frame)
        self.t.append(t)
        for c, v in zip(TIMING_COLUMNS, timings, strict=True):  # a row holds one figure per timing column
            self.timings[c].append(v)
        self.worker.append(worker)
        self.captured.append(captured)

    def rows(self) -> FrameRows:
        return FrameRows(
            np.frombuffer(self.frame, dtype=np.int64).copy(),
            np.frombuffer(self.t, dtype=np.float64).copy(),
            {c: np.frombuffer(v, dtype=np.float64).copy() for c, v in self.timings.items()},
            np.frombuffer(self.worker, dtype=np.int64).copy(),
            np.frombuffer(self.captured, dtype=np.float64).copy(),
        )


def _second_model(rows: list[_Row], duration: float) -> SecondModel:
    # The last second of a run may be a sliver: a rate over a few milliseconds would be noise.
    fps = len(rows) / duration if duration >= MIN_RATE_SPAN_S else None
    if not rows:
        return SecondModel(0, fps, None, None, {s: None for s in StageTimings.STAGES})
    index = {c: 3 + i for i, c in enumerate(TIMING_COLUMNS)}

    def p50(column: str) -> float:
        return float(np.median([r[index[column]] for r in rows]))

    return SecondModel(
        frames=len(rows),
        fps=fps,
        latency_p50_ms=p50("end_to_end_ms"),
        inference_p50_ms=p50("inference_ms"),
        stage_p50_ms={s: p50(s) for s in StageTimings.STAGES},
    )


def _csv_text(rows: list[_Row]) -> str:
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for frame, model, t, *timings, worker, captured in rows:
        # Microseconds for the capture time: the trace lays stages out from it.
        writer.writerow([frame, model, f"{t:.4f}", *(f"{v:.3f}" for v in timings), worker, f"{captured:.6f}"])
    return out.getvalue()


def _prepare_folder(folder: Path) -> list[Path]:
    """Check or create the session folder; returns the folders created, deepest first."""
    if folder.exists():
        if not folder.is_dir():
            raise SegviewError(f"cannot record into {folder}: it is a file")
        if any(folder.iterdir()):
            raise SegviewError(f"{folder} already holds files; record into a new or empty folder")
        return []
    created = missing_folders(folder)
    try:
        folder.mkdir(parents=True)
    except OSError as exc:
        _undo_start(folder, created)
        raise SegviewError(f"cannot create {folder}: {exc.strerror or exc}") from None
    return created


def _undo_start(folder: Path, created: list[Path]) -> None:
    """Remove what a recording that failed to start wrote (the folder was empty, or new)."""
    for name in (SETTINGS_FILE, MACHINE_FILE, FRAMES_FILE, SECONDS_FILE):
        with contextlib.suppress(OSError):
            (folder / name).unlink(missing_ok=True)
    remove_empty_folders(created)  # a folder something else wrote into is left
