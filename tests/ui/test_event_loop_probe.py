"""EventLoopProbe: its timer belongs to the window it measures."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

import shiboken6  # noqa: E402
from PySide6.QtWidgets import QWidget  # noqa: E402

from segview.ui.event_loop_probe import LAG_PROBE_MS, EventLoopProbe  # noqa: E402


def test_the_probe_ticks_while_its_window_lives_and_its_timer_dies_with_it(qtbot):
    window = QWidget()
    probe = EventLoopProbe(window)
    probe.start()
    qtbot.waitUntil(lambda: len(probe.delays_ms) >= 3, timeout=10 * LAG_PROBE_MS * 50)
    assert all(delay >= 0 for _, delay in probe.delays_ms)
    timer = probe._timer
    shiboken6.delete(window)  # as closing the studio does: the window's children go with it, here, on this thread
    # The probe object lives on in Python, but nothing of it can fire any more (a parentless timer
    # would, until the garbage collector freed it on some other thread).
    assert not shiboken6.isValid(timer)
