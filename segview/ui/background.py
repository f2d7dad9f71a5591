"""The one way the studio runs work off the GUI thread: a :class:`Worker`.

A Worker is a QObject made on the GUI thread; its work runs on a worker thread
(the small shared pool, or a thread of its own for a long run) and reports with
three signals: ``progress(object)`` any number of times, then ``finished(object)``
or ``failed(str)`` once. The signals are emitted on the worker thread and, the
Worker living on the GUI thread, arrive there queued: connected slots may touch
widgets. ``cancel()`` sets ``cancelled`` (the work checks it) and calls the
``on_cancel`` hook (a child process is told to stop). ``ask(question, timeout, default)``
from the work runs ``question`` on the GUI thread and hands its answer back (the
compress job's "pause the studio while I measure", which the child waits for).

``run_in_background(work, on_finished, on_failed)`` is the short form for a
call without progress: the answer goes to two callbacks on the GUI thread.
"""

from __future__ import annotations

import contextlib
import threading
import traceback
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, QRunnable, QThreadPool, Signal

from segview.errors import SegviewError

_pool: QThreadPool | None = None
_running: set[Worker] = set()  # Python must hold each worker and its signals until it reports


def _thread_pool() -> QThreadPool:
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        _pool.setMaxThreadCount(2)  # reading and writing; more would only compete with the models for the cores
    return _pool


class _Runnable(QRunnable):
    def __init__(self, worker: Worker) -> None:
        super().__init__()
        self.worker = worker

    def run(self) -> None:
        self.worker._run()


class _Question:
    """A call the work hands to the GUI thread, and the answer it waits for."""

    def __init__(self, question: Callable[[], Any]) -> None:
        self.question = question
        self.answered = threading.Event()
        self.answer: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:  # GUI thread
        try:
            self.answer = self.question()
        except Exception as exc:  # noqa: BLE001 - raised again on the worker thread, which reports it
            self.error = exc
        self.answered.set()


class Worker(QObject):
    """``work(worker)`` on a worker thread; ``worker.report(value)`` from it emits ``progress``."""

    progress = Signal(object)
    finished = Signal(object)
    failed = Signal(str)
    _asked = Signal(object)

    def __init__(self, work: Callable[[Worker], Any], *, on_cancel: Callable[[], None] | None = None, own_thread: bool = False) -> None:
        super().__init__()  # no parent: the worker outlives a closed owner until its thread reports
        self.work = work
        self.on_cancel = on_cancel
        # A run of minutes (training) gets a thread of its own, so the pool stays free for reading sessions.
        self.own_thread = own_thread
        self.cancelled = False
        self.done = False
        self._runnable: _Runnable | None = None
        self.finished.connect(self._forget)
        self.failed.connect(self._forget)
        self._asked.connect(self._answer)  # the worker lives on the GUI thread: its questions are answered there

    @property
    def signals(self) -> Worker:
        """The object carrying the signals (the worker itself; older callers asked for ``task.signals``)."""
        return self

    def start(self) -> Worker:
        _running.add(self)
        if self.own_thread:
            threading.Thread(target=self._run, name="segview-worker", daemon=True).start()
        else:
            self._runnable = _Runnable(self)
            self._runnable.setAutoDelete(False)  # Python owns it, through the worker, until it has reported
            _thread_pool().start(self._runnable)
        return self

    def report(self, value: Any) -> None:
        """From the work: one progress value, delivered to the GUI thread."""
        self._emit(self.progress, value)

    def ask(self, question: Callable[[], Any], timeout: float, default: Any = None) -> Any:
        """From the work: ``question()`` run on the GUI thread, its answer returned here, or ``default`` if none came
        within ``timeout`` s (a busy or closing GUI). A question that timed out still runs later, in order.
        Asked on the GUI thread itself, it runs at once."""
        call = _Question(question)
        self._emit(self._asked, call)
        if not call.answered.wait(timeout):
            return default
        if call.error is not None:
            raise call.error
        return call.answer

    def cancel(self) -> None:
        """From the GUI thread: the work stops at its next check (and the hook tells whatever runs it)."""
        self.cancelled = True
        if self.on_cancel is not None and not self.done:
            self.on_cancel()

    def _run(self) -> None:
        try:
            result = self.work(self)
        except SegviewError as exc:
            self._emit(self.failed, str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug in the work must reach the user, not kill the thread
            traceback.print_exc()
            self._emit(self.failed, f"{type(exc).__name__}: {exc}")
        else:
            self._emit(self.finished, result)

    def _answer(self, call: _Question) -> None:  # GUI thread (a bound slot: run where the worker lives)
        call.run()

    def _forget(self, _value: Any = None) -> None:  # GUI thread
        self.done = True
        _running.discard(self)

    @staticmethod
    def _emit(signal, value: Any) -> None:
        # RuntimeError: the application is shutting down and took the signals with it; nobody is left to tell.
        with contextlib.suppress(RuntimeError):
            signal.emit(value)


BackgroundTask = Worker  # the name callers of run_in_background know


def run_in_background(
    work: Callable[[], Any],
    on_finished: Callable[[Any], None],
    on_failed: Callable[[str], None],
    *,
    owner: QObject | None = None,
) -> Worker:
    """Start ``work``; its answer goes to a callback on the GUI thread, unless ``owner`` was deleted meanwhile."""
    worker = Worker(lambda _worker: work())

    def alive() -> bool:
        return owner is None or shiboken6.isValid(owner)

    def finished(result: Any) -> None:
        if alive():
            on_finished(result)

    def failed(message: str) -> None:
        if alive():
            on_failed(message)

    worker.finished.connect(finished)
    worker.failed.connect(failed)
    return worker.start()


def wait_for(task: Worker) -> None:
    """Keep the event loop turning until ``task`` has reported (for scripts and tests that want the answer now).

    Turned by hand rather than quit by a slot: the report may already be queued before a slot could be
    connected, and a queued report is delivered to the slots connected when it was sent."""
    while not task.done:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 100)
