"""Ctrl+C (SIGINT) and SIGTERM as requests to stop, so a run ends with its cleanup done.

Python's default SIGTERM ends the process at once: no ``finally`` runs, and work
folders and temporary files stay behind. Two ways out, for two kinds of run:

- :func:`raise_on_signals`: both signals raise (KeyboardInterrupt, :class:`Terminated`)
  where the program is, like Ctrl+C always did, so every ``finally`` cleans up
  (compress: its work folder and onnxruntime's temporary folders).
- :func:`stop_on_signals`: the first signal only sets a flag the run checks at a safe
  point (distill saves a checkpoint; the studio writes its session); a second one
  raises, for a run that does not stop.

Handlers can only be set on the main thread; elsewhere both are no-ops.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as Ctrl+C's KeyboardInterrupt is, so the same handling and cleanup apply."""


def exit_status(signum: int) -> int:
    """The shell's convention for a run ended by a signal: 130 for SIGINT, 143 for SIGTERM."""
    return 128 + int(signum)


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


def _raise_for(signum: int, frame: object = None) -> None:
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


@contextmanager
def _handlers(handler: Callable[[int, object], None]) -> Iterator[bool]:
    if threading.current_thread() is not threading.main_thread():
        yield False
        return
    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield True
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


@contextmanager
def raise_on_signals() -> Iterator[None]:
    """While the block runs, SIGTERM raises :class:`Terminated` and SIGINT KeyboardInterrupt (even if ignored before)."""
    with _handlers(_raise_for):
        yield


class StopRequest:
    """Set by the first SIGINT or SIGTERM inside :func:`stop_on_signals`; ``signum`` says which."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def is_set(self) -> bool:
        return self.signum is not None


@contextmanager
def stop_on_signals(on_stop: Callable[[int], None] | None = None, *, second_raises: bool = True) -> Iterator[StopRequest]:
    """The first signal sets the request (and calls ``on_stop`` on the main thread); a second one raises,
    unless ``second_raises`` is false (an event loop, where the raise would land in a slot, not end the run)."""
    request = StopRequest()

    def handle(signum: int, frame: object) -> None:
        if request.signum is not None:
            if second_raises:
                _raise_for(signum)
            return
        request.signum = signum
        if on_stop is not None:
            on_stop(signum)

    with _handlers(handle):
        yield request
