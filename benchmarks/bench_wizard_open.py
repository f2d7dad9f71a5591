#!/usr/bin/env python3
"""How long opening the Compress wizard blocks the studio's GUI thread.

A studio playing the demo with MODELS (comma-separated, default selfie-general,selfie-landscape); the
Compress action is triggered ROUNDS times (the first opening builds the wizard, later ones reopen it).
Prints, per opening, the time from the trigger to the wizard shown and the longest event-loop gap in the
second after it (a 10 ms timer's late ticks), next to the longest gap in the half second before it.

    QT_QPA_PLATFORM=offscreen python3 benchmarks/bench_wizard_open.py
    xvfb-run -a -s "-screen 0 1600x900x24" env QT_QPA_PLATFORM=xcb python3 benchmarks/bench_wizard_open.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HOME"] = tempfile.mkdtemp(prefix="segview-bench-home-")  # the user's settings stay untouched


def main() -> int:
    from PySide6.QtCore import QTimer

    from segview.ui.app import Studio, application

    app = application()
    studio = Studio(persist=False)
    studio.window.resize(1280, 720)
    studio.window.show()
    models = os.environ.get("MODELS", "selfie-general,selfie-landscape").split(",")
    if not studio.open("demo", models):
        raise SystemExit(studio.window.problem_label.text())

    def spin(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.002)

    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(10)
    spin(3)
    for i in range(int(os.environ.get("ROUNDS", "3"))):
        gaps.clear()
        spin(0.5)
        before = max(gaps)
        gaps.clear()
        started = time.perf_counter()
        studio.window.compress_action.trigger()
        shown = time.perf_counter() - started
        assert studio.window._compress_wizard.isVisible()
        spin(1.0)
        print(
            f"opening {i + 1}: trigger -> shown {shown * 1e3:.0f} ms, longest event-loop gap after {max(gaps) * 1e3:.0f} ms (before: {before * 1e3:.0f} ms)",
            flush=True,
        )
        studio.window._compress_wizard.reject()
        spin(0.5)
    studio.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
