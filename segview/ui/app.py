"""Starting the studio: QApplication, engine, metrics, window; and the scripted profiling run.

``segview studio --source SRC --model M --duration S --record DIR`` opens the
window, runs for S seconds, writes the recording (summary.json with fps per
model) into DIR and exits: unattended profiling, under Xvfb or offscreen.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PySide6.QtCore import QTimer, QtMsgType, qInstallMessageHandler
from PySide6.QtGui import QImageWriter
from PySide6.QtWidgets import QApplication

from segview.errors import SegviewError
from segview.fileio import atomic_write_json
from segview.inference.registry import ModelRegistry
from segview.interrupts import exit_status, signal_name, stop_on_signals
from segview.metrics.hub import MetricsHub
from segview.metrics.samplers import default_samplers
from segview.phone.samplers import phone_samplers
from segview.render.overlay import OverlayMode
from segview.startup_checks import can_load, check_display
from segview.ui.engine import StudioEngine
from segview.ui.main_window import StudioWindow, default_models, default_source
from segview.ui.recording_control import RecordingControl
from segview.ui.settings_store import APPLICATION, ORGANIZATION, load_preferences
from segview.ui.theme import apply_theme

# How long a thread may hold the GIL while another waits for it (Python's default: 5 ms). The GUI
# thread runs pyqtgraph's painting and the plots' refresh in Python, some 10% of its time; a pipeline
# worker back from onnxruntime needs the GIL for a few microseconds of numpy work and, meanwhile, its
# core idles. With 5 ms the workers stall for most of every stretch of GUI Python; at 0.5 ms they get
# the GIL within half a millisecond. `segview bench`, which has no GUI thread, gains nothing from it.
GUI_SWITCH_INTERVAL_S = 0.0005


def application() -> QApplication:
    qInstallMessageHandler(_on_qt_message)
    sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    if not isinstance(app, QApplication):  # a QCoreApplication made elsewhere in this process: no widgets possible
        raise RuntimeError("a non-GUI Qt application already runs in this process")
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    apply_theme(app)
    return app


# Warnings Qt's offscreen and minimal platforms print about window features they lack: noise for users.
_QT_NOISE = ("propagateSizeHints", "This plugin does not support")


def _on_qt_message(kind: QtMsgType, context, message: str) -> None:
    if kind in (QtMsgType.QtDebugMsg, QtMsgType.QtInfoMsg) or any(n in message for n in _QT_NOISE):
        return
    print(f"qt: {message}", file=sys.stderr)


class Studio:
    """Everything the window needs, built and torn down together (GUI thread)."""

    def __init__(self, *, workers: int | None = None, provider: str = "cpu", persist: bool = True, registry: ModelRegistry | None = None) -> None:
        self.registry = registry or ModelRegistry()  # the same folders every command searches
        self.engine = StudioEngine(self.registry, workers=workers, provider=provider)
        self.hub = MetricsHub(default_samplers())
        self.hub.start()
        self.window = StudioWindow(self.engine, system_series=lambda: self.hub.snapshot(), persist=persist)
        self.recording = RecordingControl(self.engine, self.hub)
        # While the source is a phone ("" = the only one attached), the hub also samples the phone.
        self._phone: str | None = None
        self._phone_note = ""
        self.engine.state_changed.connect(self._follow_phone)
        self.window.record_action.toggled.connect(self._on_record_toggled)
        # The recorder writes on its own thread; a failure there (disk full) surfaces here.
        self._recording_watch = QTimer(self.window)
        self._recording_watch.timeout.connect(self._check_recording)
        self._recording_watch.timeout.connect(self._check_phone)
        self._recording_watch.timeout.connect(self._check_source_warnings)
        self._shown_source_warning = ""
        self._recording_watch.start(1000)
        self._reported_recording_problem: str | None = None

    def open(self, source: str | None, models: list[str] | None) -> bool:
        """Open the source and models (remembered ones when not given); False if either failed (the window says why)."""
        prefs = load_preferences()
        self.window.apply_preferences(prefs)
        self.window.refresh_models()
        ok = self.window.choose_source(source or default_source(prefs.source))
        if not ok and source is None:
            ok = self.window.choose_source("demo")
        ok = self.window.choose_models(models or default_models(self.registry, prefs.models)) and ok
        self.window.refresh_sources()
        if ok:
            self.engine.play()
        return ok

    def _on_record_toggled(self, on: bool) -> None:
        try:
            if on and not self.recording.recording:
                folder = self.recording.start()
                self.window.statusBar().showMessage(f"Recording into {folder}", 5000)
            elif not on and self.recording.recording:
                saved = self.recording.stop()
                self.window.statusBar().showMessage(f"Session saved in {saved}", 8000)
        except SegviewError as exc:
            self.window.show_problem(str(exc))
            self.window.record_action.blockSignals(True)
            self.window.record_action.setChecked(False)
            self.window.record_action.blockSignals(False)

    def _check_recording(self) -> None:
        problem = self.recording.problem
        if problem and problem != self._reported_recording_problem:
            self._reported_recording_problem = problem
            self.window.show_problem(f"recording stopped ({problem}); what was recorded so far is kept")

    def _follow_phone(self) -> None:
        """A new hub with the phone's samplers when the source becomes a phone, without them when it stops being one."""
        spec = self.engine.source_spec
        phone = spec.target if spec is not None and spec.scheme == "adb" else None
        if phone == self._phone:
            return
        self._phone = phone
        old, self.hub = self.hub, MetricsHub(default_samplers() + (phone_samplers(phone or None) if phone is not None else []))
        self.hub.start()
        self.recording.hub = self.hub
        if self.recording.recorder is not None:
            old.unsubscribe(self.recording.recorder.on_metrics)
            self.hub.subscribe(self.recording.recorder.on_metrics)
        old.stop()

    def _check_source_warnings(self) -> None:
        """Say once what the source skipped (unreadable images in a folder)."""
        text = "; ".join(self.engine.source_warnings())
        if text and text != self._shown_source_warning:
            self._shown_source_warning = text
            self.window.statusBar().showMessage(text, 15000)

    def _check_phone(self) -> None:
        """Say that USB charging distorts the phone's power readings, once each time it starts."""
        note = next((s.note for s in self.hub.samplers if s.key == "phone_charging"), "")
        if note != self._phone_note:
            self._phone_note = note
            if note:
                self.window.statusBar().showMessage(f"Phone: {note}", 15000)

    def event_loop_delays(self) -> dict[str, float | None]:
        """p50/p95/max of how late the window's 20 ms probe timer fired, over the last minute."""
        delays = self.window.lag_probe.all_delays()
        if delays.size == 0:
            return {"p50": None, "p95": None, "max": None}
        return {"p50": round(float(np.percentile(delays, 50)), 2), "p95": round(float(np.percentile(delays, 95)), 2), "max": round(float(delays.max()), 2)}

    def close(self) -> None:
        if self.recording.recording:
            self.recording.stop()
        wizard = getattr(self.window, "_compress_wizard", None)
        if wizard is not None:
            wizard.stop_job()  # a compression still running in its own process is cancelled, its partial files removed
        self.window.close()
        self.hub.stop()


def run_studio(args: argparse.Namespace) -> int:
    check_display(os.environ, can_load)  # Qt aborts the process without one (segview.launcher checked the rest)
    app = application()
    check_screenshot_path(args.screenshot)
    scripted = args.duration is not None
    studio = Studio(workers=args.workers, provider=args.provider, persist=not scripted)
    opened = studio.open(args.source, args.models)
    if args.overlay:
        studio.window.overlay_controls.set_mode(OverlayMode(args.overlay))
    if scripted and not opened:
        problem = studio.window.problem_label.text() or "could not start"
        studio.close()
        raise SegviewError(problem)
    if args.record is not None:
        try:
            studio.recording.start(args.record)
        except SegviewError:
            studio.close()  # models are running: stop them before the error ends the process
            raise
    if getattr(args, "size", None):
        studio.window.resize(*args.size)
    studio.window.show()
    if not scripted:
        # Ctrl+C or SIGTERM closes the window as its close button does.
        with stop_on_signals(lambda signum: app.quit(), second_raises=False) as stop, _signal_wakeups(app):
            code = app.exec()
        studio.close()
        if stop.signum is None:
            return code
        print(f"segview: interrupted by {signal_name(stop.signum)}", file=sys.stderr)
        return exit_status(stop.signum)
    return _run_scripted(app, studio, args)


def _run_scripted(app: QApplication, studio: Studio, args: argparse.Namespace) -> int:
    """--duration: run, write the session, exit. A source that ends, Ctrl+C or SIGTERM ends it sooner,
    the session kept all the same; whatever goes wrong at the end ends the run too, with one line."""
    outcome: dict[str, object] = {}
    started = time.monotonic()
    signalled: list[int] = []

    def finish() -> None:
        if outcome:
            return  # already finishing: the source ended first, or a signal came; the timer fires all the same
        outcome["seconds"] = round(time.monotonic() - started, 1)
        try:
            _wrap_up(studio, args, outcome, interrupted=bool(signalled))
        except Exception as exc:  # raised in a timer slot it would leave the event loop running forever
            # The first problem is the one to report: a full disk stops the recorder before studio.json fails.
            outcome.setdefault("error", str(exc) if isinstance(exc, SegviewError) else f"the run could not finish: {type(exc).__name__}: {exc}")
        finally:
            try:
                studio.close()
            finally:
                app.quit()

    def finish_if_ended() -> None:
        # A file played to its end is the end of a scripted run, not a failure: stop there.
        if studio.engine.source_ended:
            QTimer.singleShot(0, finish)

    studio.engine.state_changed.connect(finish_if_ended)
    # A recording that stopped (a full disk) ends an unattended run now, not at the end of --duration.
    recording_watch = QTimer(studio.window)
    recording_watch.timeout.connect(lambda: studio.recording.problem and QTimer.singleShot(0, finish))
    recording_watch.start(500)

    # Responsiveness is judged while the models run, not while they load.
    QTimer.singleShot(int(min(3.0, args.duration / 3) * 1000), studio.window.lag_probe.reset)
    QTimer.singleShot(int(args.duration * 1000), finish)

    def on_signal(signum: int) -> None:
        signalled.append(signum)
        QTimer.singleShot(0, finish)

    with stop_on_signals(on_signal, second_raises=False) as stop, _signal_wakeups(app):
        app.exec()
    return _report_scripted(outcome, stop.signum, args)


def _wrap_up(studio: Studio, args: argparse.Namespace, outcome: dict[str, object], *, interrupted: bool) -> None:
    """The end of a scripted run: screenshot, recording stopped, studio.json (GUI thread)."""
    seconds = outcome["seconds"]
    if args.screenshot is not None and not studio.window.grab().save(str(args.screenshot)):
        outcome["error"] = f"cannot write the screenshot {args.screenshot}"
    ended = studio.engine.source_ended
    outcome["problem"] = studio.engine.problem if not studio.engine.running and not ended else None
    outcome["ended"] = f"{studio.engine.source_name} ended after {seconds:.1f} s of the {args.duration:g} s asked" if ended else None
    recorder = studio.recording.recorder
    folder = studio.recording.stop()
    outcome["folder"] = folder
    if folder is None:
        return
    if recorder is not None and recorder.problem:
        outcome.setdefault("error", f"recording stopped: {recorder.problem}; what was recorded so far is kept in {folder}")
    cut_short = ended or interrupted or bool(recorder is not None and recorder.problem)
    # The window's own responsiveness, beside the recorder's files.
    atomic_write_json(
        folder / "studio.json",
        {"event_loop_delay_ms": studio.event_loop_delays(), "duration_s": seconds if cut_short else args.duration, "duration_asked_s": args.duration},
    )


def _report_scripted(outcome: dict[str, object], signum: int | None, args: argparse.Namespace) -> int:
    """What a scripted run prints once the window is gone, and its exit status."""
    if outcome.get("error"):
        raise SegviewError(str(outcome["error"]))
    if outcome.get("ended"):
        print(outcome["ended"])
    if outcome.get("folder"):
        print(f"session recorded in {outcome['folder']}")
    if outcome.get("problem"):
        raise SegviewError(str(outcome["problem"]))
    if signum is not None:
        print(f"segview: interrupted by {signal_name(signum)} after {outcome.get('seconds', 0):.1f} s of the {args.duration:g} s asked", file=sys.stderr)
        return exit_status(signum)
    return 0


def check_screenshot_path(path: Path | None) -> None:
    """Before the run: a screenshot that cannot be saved would otherwise be found missing only at the end."""
    if path is None:
        return
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise SegviewError(f"cannot save the screenshot {path}: folder {folder} does not exist")
    formats = sorted(bytes(f.data()).decode() for f in QImageWriter.supportedImageFormats())
    if path.suffix.lower().lstrip(".") not in formats:
        raise SegviewError(
            f"cannot save the screenshot {path}: give a file ending in .png or .jpg (or {', '.join('.' + f for f in formats if f not in ('png', 'jpg'))})"
        )


@contextmanager
def _signal_wakeups(app: QApplication) -> Iterator[None]:
    """Python runs signal handlers only between its own bytecodes, never while Qt's event loop
    waits in C++: a timer that calls into Python a few times a second lets Ctrl+C be seen."""
    timer = QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(200)
    try:
        yield
    finally:
        timer.stop()
        timer.deleteLater()
