"""Polling one phone's battery, thermal status and CPU clocks about once a second, on the monitor's own thread.

Each poll is three short adb commands (``dumpsys battery``, ``dumpsys
thermalservice`` and one ``grep`` over sysfs files); together they take tens
of milliseconds, sometimes seconds when the phone is busy, which is why they
run here and not on the metrics hub's thread or anywhere near the video.
"""

from __future__ import annotations

import threading
import time

from segview.phone.adb import Adb, AdbError, find_adb
from segview.phone.devices import list_phones, pick_phone
from segview.phone.readings import (
    BATTERY_CURRENT_FILES,
    CPU_FREQ_GLOB,
    PhoneReading,
    battery_current_raw,
    cpu_khz,
    parse_battery,
    parse_sysfs_lines,
    parse_thermal_status,
)

COMMAND_TIMEOUT_S = 5.0


class PhoneMonitor:
    """``serial`` None means the only phone attached (looked up at each poll until found).

    :meth:`start` and :meth:`close` from any thread (close is idempotent);
    :attr:`latest` from any thread; :meth:`poll_once` on the monitor thread
    (tests call it directly).
    """

    def __init__(self, serial: str | None, *, adb: Adb | None = None, interval_s: float = 1.0, current_unit: str = "auto") -> None:
        self.serial = serial
        self.interval_s = interval_s
        self.current_unit = current_unit
        self._adb = adb
        self._resolved = serial
        self._latest: PhoneReading | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def latest(self) -> PhoneReading | None:
        return self._latest

    def fresh(self, max_age_s: float | None = None) -> PhoneReading | None:
        """The latest reading if it is recent (a phone that stopped answering has none)."""
        reading = self._latest
        limit = max_age_s if max_age_s is not None else 3 * self.interval_s + 2 * COMMAND_TIMEOUT_S
        if reading is None or time.perf_counter() - reading.t > limit:
            return None
        return reading

    def start(self) -> None:
        """Start polling (once; later calls do nothing)."""
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._thread = threading.Thread(target=self._loop, name="segview-phone-metrics", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 0.5) -> None:
        """Stop polling; waits at most ``timeout`` for a poll in flight (the thread ends after it)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            self._latest = self.poll_once()
            self._stop.wait(max(0.0, self.interval_s - (time.perf_counter() - started)))

    def poll_once(self) -> PhoneReading:
        """Ask the phone once; what fails is named in ``problem`` and left None (monitor thread)."""
        try:
            adb = self._adb or find_adb()
            serial = self._serial(adb)
            battery_out = adb.shell(serial, ["dumpsys", "battery"], timeout=COMMAND_TIMEOUT_S)
        except AdbError as exc:
            return PhoneReading(time.perf_counter(), None, None, (), str(exc))
        problems = []
        files: dict[str, str] = {}
        try:
            sysfs = adb.shell(serial, ["grep", "-H", ".", *BATTERY_CURRENT_FILES, CPU_FREQ_GLOB], timeout=COMMAND_TIMEOUT_S)
            files = parse_sysfs_lines(sysfs.stdout)
        except AdbError as exc:
            problems.append(str(exc))
        battery = None
        if battery_out.ok:
            try:
                battery = parse_battery(battery_out.stdout, battery_current_raw(files), current_unit=self.current_unit)
            except ValueError as exc:
                problems.append(str(exc))
        else:
            problems.append(f"dumpsys battery failed: {battery_out.first_error_line()}")
        thermal = None
        try:
            thermal_out = adb.shell(serial, ["dumpsys", "thermalservice"], timeout=COMMAND_TIMEOUT_S)
            thermal = parse_thermal_status(thermal_out.stdout) if thermal_out.ok else None
        except AdbError as exc:
            problems.append(str(exc))
        return PhoneReading(time.perf_counter(), battery, thermal, cpu_khz(files), "; ".join(problems) or None)

    def _serial(self, adb: Adb) -> str:
        if self._resolved is None:
            self._resolved = pick_phone(list_phones(adb, timeout=COMMAND_TIMEOUT_S, ask_models=False), None).serial
        return self._resolved
