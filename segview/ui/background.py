"""Running slow work (reading a session, writing a report) off the GUI thread, with the answer back on it.

``run_in_background(work, on_finished, on_failed)`` queues ``work`` on a
small thread pool; its result or its error message comes back through a
queued signal, so the callbacks run on the GUI thread, where widgets may be
touched.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QEventLoop, QObject, QRunnable, QThreadPool, Signal

from segview.errors import SegviewError

_pool: QThreadPool | None = None
_running: set[BackgroundTask] = set()  # Python must hold each task and its signals until it reports


def _thread_pool() -> QThreadPool:
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        _pool.setMaxThreadCount(2)  # reading and writing; more would only compete with the models for the cores
    return _pool


class _Signals(QObject):
    finished = Signal(object)
    failed = Signal(str)


class BackgroundTask(QRunnable):
    """One call of ``work`` on the pool; ``signals.finished(result)`` or ``signals.failed(message)`` once."""

    def __init__(self, work: Callable[[], Any]) -> None:
        super().__init__()
        self.setAutoDelete(False)  # Python owns it (see _running)
        self.work = work
        self.signals = _Signals()  # created here, on the GUI thread: emits from the worker arrive queued
        self.done = False

    def run(self) -> None:
        try:
            result = self.work()
        except SegviewError as exc:
            self._emit(self.signals.failed, str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug in the work must reach the user, not kill the thread
            traceback.print_exc()
            self._emit(self.signals.failed, f"{type(exc).__name__}: {exc}")
        else:
            self._emit(self.signals.finished, result)

    @staticmethod
    def _emit(signal, value: Any) -> None:
        try:
            signal.emit(value)
        except RuntimeError:
            pass  # the application is shutting down and took the signals with it: nobody is left to tell


def run_in_background(
    work: Callable[[], Any],
    on_finished: Callable[[Any], None],
    on_failed: Callable[[str], None],
    *,
    owner: QObject | None = None,
) -> BackgroundTask:
    """Start ``work``; its answer goes to a callback on the GUI thread, unless ``owner`` was deleted meanwhile."""
    task = BackgroundTask(work)

    def alive() -> bool:
        return owner is None or shiboken6.isValid(owner)

    def finish(result: Any) -> None:
        _forget(task)
        if alive():
            on_finished(result)

    def fail(message: str) -> None:
        _forget(task)
        if alive():
            on_failed(message)

    task.signals.finished.connect(finish)
    task.signals.failed.connect(fail)
    _running.add(task)
    _thread_pool().start(task)
    return task


def _forget(task: BackgroundTask) -> None:
    task.done = True
    _running.discard(task)


def wait_for(task: BackgroundTask) -> None:
    """Keep the event loop turning until ``task`` has reported (for scripts and tests that want the answer now)."""
    if task.done:
        return
    loop = QEventLoop()
    task.signals.finished.connect(lambda _: loop.quit())
    task.signals.failed.connect(lambda _: loop.quit())
    if not task.done:  # it may have reported while the lambdas were being connected
        loop.exec()
