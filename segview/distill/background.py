"""What DistillJob (a thread of this process) and DistillProcess (a child, read by a thread) share: a run
that ends when its thread does."""

from __future__ import annotations

import threading


class ThreadedRun:
    """``running`` and ``wait`` over ``_thread``, the daemon thread a subclass builds and starts."""

    _thread: threading.Thread

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """True once the run has ended, within ``timeout`` seconds (None: however long it takes)."""
        self._thread.join(timeout)
        return not self._thread.is_alive()
