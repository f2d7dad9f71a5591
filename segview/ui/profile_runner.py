"""Profiling models from the studio without disturbing its live figures (GUI thread, work on a pool thread).

A run takes a few raw frames from the studio's running source (a pipeline consumer,
as the Compress wizard's frame capture does), or the demo clip's when nothing plays;
then pauses the studio's models through :mod:`segview.ui.measure_hold` (holds nest
with the wizard's and the Distill page's; only what played resumes) and profiles
each model on a worker thread, with the machine to itself. The hold ends when the
work has ended (a cancel too: it waits for the model being profiled), so the live
figures never share the cores with the profiler.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import shiboken6
from PySide6.QtCore import QObject, QTimer, Signal

from segview.inference.registry import ModelEntry
from segview.sources.frames import first_frames
from segview.ui import measure_hold
from segview.ui.background import run_in_background
from segview.ui.frame_grab import FrameGrab

FRAMES = 8  # a few different frames: the profile cycles through them
GRAB_TIMEOUT_MS = 3000  # a source that gives no frames by then (a stalled camera): the demo clip's instead
POLL_MS = 30


@dataclass(frozen=True, slots=True)
class ProfileRequest:
    entries: tuple[ModelEntry, ...]  # one model, or two to diff (the first is the base)
    threads: int = 1
    runs: int = 50
    warmup: int = 10


@dataclass(frozen=True, slots=True)
class ProfileOutcome:
    profiles: tuple  # OpProfile per entry
    diff: object | None  # ProfileDiff of the two, or None
    frames_from: str  # where the frames came from
    paused: bool  # the studio's models were paused while profiling


def demo_frames(count: int = FRAMES) -> list[np.ndarray]:
    """The first frames of the bundled demo clip (worker thread)."""
    return first_frames("demo", count)


def profile_models(request: ProfileRequest, frames: list[np.ndarray], *, cancelled=lambda: False, progress=lambda text: None):
    """Profile each model of the request on these frames, then diff the first two (any thread)."""
    from segview.profiling import diff_profiles, profile_model

    profiles = []
    for i, entry in enumerate(request.entries, start=1):
        if cancelled():
            return None
        progress(
            f"Profiling {entry.name} ({i}/{len(request.entries)}): {request.warmup} warm-up and {request.runs} profiled runs, {request.threads} thread(s)…"
        )
        profiles.append(profile_model(entry, frames, threads=request.threads, runs=request.runs, warmup=request.warmup))
    diff = diff_profiles(profiles[0], profiles[1]) if len(profiles) >= 2 else None
    return tuple(profiles), diff


class _Progress(QObject):
    said = Signal(str)  # made on the GUI thread: emitted from the worker, it arrives queued


class ProfileRunner(QObject):
    """One profile at a time. Signals: ``progressed(text)``, then ``finished(ProfileOutcome)``,
    ``failed(message)`` or ``cancelled()``; the studio plays again (if it played) before any of the last three."""

    progressed = Signal(str)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, engine=None, window=None, *, work=profile_models) -> None:
        super().__init__()
        self.engine = engine
        self.window = window
        self.work = work
        self.running = False
        self.last_warmup = 0
        self._cancel = threading.Event()
        self._grab: FrameGrab | None = None
        self._grab_timer = QTimer(self)
        self._grab_timer.timeout.connect(self._check_grab)
        self._waited_ms = 0
        self._request: ProfileRequest | None = None
        self._held = False
        self._progress = _Progress()
        self._progress.said.connect(self.progressed)

    def start(self, request: ProfileRequest) -> bool:
        if self.running or not request.entries:
            return False
        self.running = True
        self._cancel.clear()
        self._request = request
        self.last_warmup = request.warmup
        if self.engine is not None and self.engine.running:
            self.progressed.emit(f"Taking {FRAMES} frames from {self.engine.source_name or 'the source'}…")
            self._grab = FrameGrab(self.engine, FRAMES)
            self._grab.start()
            self._waited_ms = 0
            self._grab_timer.start(POLL_MS)
        else:
            self._profile([], "the demo clip")
        return True

    def cancel(self) -> None:
        if self.running:
            self._cancel.set()
            if self._grab is not None:  # nothing held yet: stop at once
                self._grab_timer.stop()
                self._grab.stop()
                self._grab = None
                self._end()
                self.cancelled.emit()
            else:
                self.progressed.emit("Cancelling: the model being profiled finishes its runs first…")

    def _check_grab(self) -> None:
        self._waited_ms += POLL_MS
        if self._grab is None or not (self._grab.done or self._waited_ms >= GRAB_TIMEOUT_MS):
            return
        self._grab_timer.stop()
        frames = self._grab.stop()
        self._grab = None
        self._profile(frames, self.engine.source_name or "the source") if frames else self._profile([], "the demo clip")

    def _profile(self, frames: list[np.ndarray], frames_from: str) -> None:
        """Hold the studio, then profile on the pool; the answer comes back on the GUI thread."""
        request = self._request
        paused = False
        if self.engine is not None:
            paused = measure_hold.hold(self.engine, self.window) == measure_hold.PAUSED
            self._held = True

        def work():
            shots = frames or demo_frames()
            return self.work(request, shots, cancelled=self._cancel.is_set, progress=self._progress.said.emit)

        def done(result) -> None:
            self._end()  # first, and even if the view has gone: the studio must play again
            if not shiboken6.isValid(self):
                return
            if result is None or self._cancel.is_set():
                self.cancelled.emit()
            else:
                profiles, diff = result  # what profile_models returns
                self.finished.emit(ProfileOutcome(profiles, diff, frames_from=frames_from, paused=paused))

        def fail(message: str) -> None:
            self._end()
            if shiboken6.isValid(self):
                self.failed.emit(message)

        run_in_background(work, done, fail)

    def _end(self) -> None:
        if self._held:
            self._held = False
            window = self.window if self.window is not None and shiboken6.isValid(self.window) else None
            measure_hold.release(self.engine, window)
            if self.window is not None and (window is None or not window.isVisible()):
                self.engine.shutdown()  # the studio was closed meanwhile: what the release played again must not outlive it
        self.running = False
