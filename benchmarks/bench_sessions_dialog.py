#!/usr/bin/env python3
"""How long opening the Sessions dialog, and a compare of two sessions in it, blocks the GUI thread.

Records RECORDINGS real sessions (the scripted studio on the demo source, two models, DURATION seconds
each) into a temporary folder, then copies them until the folder holds SESSIONS sessions (each copy with its
own recording time), unless SESSIONS_DIR names a folder that already holds them (it is filled, and kept, on
the first run). Then, ROUNDS times each:

- opens a fresh Sessions dialog on the folder (as the studio's Sessions… action does) and waits until the
  list is filled and the newest session's summary and plots are shown;
- selects two sessions not read yet and presses Compare selected, until the comparison is shown.

The longest GUI-thread stall is the longest gap between ticks of a 5 ms heartbeat timer, from just before
the action to 300 ms after its result is shown; next to it, the most CPU time the GUI thread spent between
two ticks (the same stall without the time spent waiting for a core on a loaded machine). Prints each round,
then the median and max of each.

    QT_QPA_PLATFORM=offscreen python3 benchmarks/bench_sessions_dialog.py
    SESSIONS=0 python3 benchmarks/bench_sessions_dialog.py   # an empty folder: opening only
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HOME = tempfile.mkdtemp(prefix="segview-bench-home-")  # the user's settings stay untouched
os.environ["HOME"] = HOME


def record(folder: Path, seconds: int) -> None:
    command = [
        sys.executable,
        "-m",
        "segview",
        "studio",
        "--source",
        "demo",
        "--model",
        "selfie-general",
        "--model",
        "selfie-landscape",
        "--duration",
        str(seconds),
        "--record",
        str(folder),
    ]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})


def fill(root: Path, count: int, recordings: int, seconds: int) -> None:
    """``count`` sessions in ``root``: ``recordings`` recorded for real, the rest copies, an hour apart each."""
    root.mkdir(parents=True, exist_ok=True)
    have = sorted(p for p in root.iterdir() if (p / "frames.csv").is_file())
    for i in range(len(have), min(recordings, count)):
        print(f"recording session {i + 1} ({seconds} s)…", flush=True)
        record(root / f"run{i + 1:02d}", seconds)
    real = sorted(p for p in root.iterdir() if (p / "frames.csv").is_file())
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(len(real), count):
        copy = root / f"copy{i + 1:02d}"
        shutil.copytree(real[i % len(real)], copy)
        machine = json.loads((copy / "machine.json").read_text())
        machine["recorded_at"] = (start + timedelta(hours=i)).isoformat()
        (copy / "machine.json").write_text(json.dumps(machine))


class Heartbeat:
    """A 5 ms timer on the GUI thread; since ``reset()``, ``longest()`` is the longest gap between its ticks
    in ms of wall-clock time, and ``longest_cpu()`` the most CPU time the GUI thread spent between two ticks.

    On a machine shared with other busy processes a wall-clock gap also holds the time the process waited
    for a core; the CPU time between ticks is the work the GUI thread did meanwhile, whatever the load.
    """

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.gaps: list[tuple[float, float]] = []
        self.reset()
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.timer.start(5)

    def _tick(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        self.gaps.append((now - self.last, cpu - self.last_cpu))
        self.last, self.last_cpu = now, cpu

    def reset(self) -> None:
        self.gaps.clear()
        self.last, self.last_cpu = time.perf_counter(), time.thread_time()

    def longest(self) -> float:
        return max((wall for wall, _ in self.gaps), default=0.0) * 1e3

    def longest_cpu(self) -> float:
        return max((cpu for _, cpu in self.gaps), default=0.0) * 1e3


def spin_until(app, done, timeout_s: float = 60.0, then_s: float = 0.3) -> float:
    """Turn the event loop until ``done()`` (then ``then_s`` more); the seconds until ``done()``."""
    start = time.perf_counter()
    while not done():
        if time.perf_counter() - start > timeout_s:
            raise SystemExit("timed out")
        app.processEvents()
        time.sleep(0.001)
    took = time.perf_counter() - start
    end = time.perf_counter() + then_s
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)
    return took


def open_dialog(app, beat: Heartbeat, root: Path, expect: int):
    from PySide6.QtCore import QTimer

    from segview.ui.session_browser import SessionBrowser

    holder: list = []
    shown: list = []

    def open_it() -> None:
        browser = SessionBrowser(root)
        browser.session_shown.connect(shown.append)
        browser.show()
        holder.append(browser)

    beat.reset()
    QTimer.singleShot(0, open_it)
    if expect:
        took = spin_until(app, lambda: bool(shown))
    else:
        took = spin_until(app, lambda: bool(holder) and "No recorded sessions" in holder[0].hint.text())
    return holder[0], took, beat.longest(), beat.longest_cpu()


def compare_two(app, beat: Heartbeat, browser, rows: tuple[int, int]):
    from PySide6.QtCore import QItemSelectionModel, QTimer

    browser.loaded.clear()  # both are read again, as for a pair never selected before
    browser.list.clearSelection()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    for row in rows:
        browser.list.selectionModel().select(browser.list.model().index(row, 0), flags)
    done: list = []
    browser.compared.connect(lambda a, b: done.append(1))
    spin_until(app, lambda: True, then_s=0.2)
    beat.reset()
    QTimer.singleShot(0, browser.compare_button.click)
    took = spin_until(app, lambda: bool(done))
    browser.compared.disconnect()
    return took, beat.longest(), beat.longest_cpu()


def summary(name: str, values: list[float]) -> str:
    return f"{name}: median {statistics.median(values):.0f} ms, max {max(values):.0f} ms over {len(values)}"


def main() -> int:
    count = int(os.environ.get("SESSIONS", "20"))
    rounds = int(os.environ.get("ROUNDS", "5"))
    kept = os.environ.get("SESSIONS_DIR")
    base = Path(kept or tempfile.mkdtemp(prefix="segview-bench-sessions-"))
    root = base if count else base / "empty"
    if count:
        fill(root, count, int(os.environ.get("RECORDINGS", "2")), int(os.environ.get("DURATION", "20")))
    from segview.ui.app import application

    app = application()
    beat = Heartbeat()
    spin_until(app, lambda: True, then_s=0.5)
    opened: list[tuple[float, float]] = []
    compared: list[tuple[float, float]] = []
    for i in range(rounds):
        browser, took, stall, cpu = open_dialog(app, beat, root, count)
        opened.append((stall, cpu))
        line = f"opening {i + 1}: shown after {took * 1e3:.0f} ms, longest stall {stall:.0f} ms ({cpu:.0f} ms CPU)"
        if count >= 2:
            pair = (1 + 2 * i % (count - 1), 2 + 2 * i % (count - 1)) if count > 2 else (0, 1)
            took, stall, cpu = compare_two(app, beat, browser, pair)
            compared.append((stall, cpu))
            line += f"; compare shown after {took * 1e3:.0f} ms, longest stall {stall:.0f} ms ({cpu:.0f} ms CPU)"
        print(line, flush=True)
        browser.close()
        browser.deleteLater()
        spin_until(app, lambda: True, then_s=0.3)
    print(f"{count} sessions in {root}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name, figures in (("opening the Sessions dialog", opened), ("opening a compare", compared)):
        if figures:
            print(summary(f"{name}, longest stall", [wall for wall, _ in figures]))
            print(summary(f"{name}, most GUI-thread CPU between two ticks", [cpu for _, cpu in figures]))
    if not kept:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        shutil.rmtree(HOME, ignore_errors=True)
