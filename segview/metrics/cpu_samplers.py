"""Samplers of this process and its CPU: CPU share, resident memory and the cores' clock."""

from __future__ import annotations

import time
from pathlib import Path

import psutil

from segview.metrics.sampler_base import SYSFS, Sampler, read_sysfs_int

MIN_CPU_SPAN_S = 0.25


class ProcessCpuSampler(Sampler):
    """This process's CPU use since the previous read; 100 = one core fully busy."""

    key = "cpu_percent"
    label = "Process CPU"
    unit = "%"

    def __init__(self) -> None:
        super().__init__()
        self._process = psutil.Process()
        # psutil measures from the previous call; the first call only sets the start.
        self._process.cpu_percent(None)
        self._since = time.monotonic()
        self._last: float | None = None

    def _read(self) -> float | None:
        # CPU times advance in 10 ms clock ticks: over a few milliseconds one tick reads as
        # 1000% (seen at start-up). Shorter spans repeat the last full measurement.
        now = time.monotonic()
        if now - self._since < MIN_CPU_SPAN_S:
            return self._last
        self._since = now
        self._last = float(self._process.cpu_percent(None))
        return self._last


class ProcessMemorySampler(Sampler):
    """This process's resident memory."""

    key = "rss_mb"
    label = "Process memory (RSS)"
    unit = "MB"

    def __init__(self) -> None:
        super().__init__()
        self._process = psutil.Process()

    def _read(self) -> float | None:
        return self._process.memory_info().rss / 2**20


class CpuClockSampler(Sampler):
    """Average current clock over all cores: cpufreq in sysfs, else psutil, else unavailable.

    Thermal or power throttling shows up here long before it shows up as a
    mysteriously slower model.
    """

    key = "cpu_mhz"
    label = "CPU clock"
    unit = "MHz"

    def __init__(self, sysfs_root: Path = SYSFS, *, use_psutil: bool = True) -> None:
        super().__init__()
        cpu_dir = Path(sysfs_root) / "devices" / "system" / "cpu"
        self._files = sorted(cpu_dir.glob("cpu[0-9]*/cpufreq/scaling_cur_freq"))
        self._use_psutil = False
        if self._files and self._read_sysfs() is not None:
            return
        self._files = []
        if use_psutil and _psutil_mhz() is not None:
            self._use_psutil = True
            return
        self._unavailable(f"no cpufreq in {cpu_dir} and the OS reports no CPU clock")

    def _read_sysfs(self) -> float | None:
        khz = []
        for path in self._files:
            try:
                khz.append(read_sysfs_int(path))
            except (OSError, ValueError):
                continue  # a core going offline drops out of the average
        khz = [k for k in khz if k > 0]
        return sum(khz) / len(khz) / 1000.0 if khz else None

    def _read(self) -> float | None:
        if self._use_psutil:
            return _psutil_mhz()
        return self._read_sysfs()


def _psutil_mhz() -> float | None:
    try:
        freq = psutil.cpu_freq()
    except (OSError, NotImplementedError, RuntimeError):
        return None
    # Some VMs report 0.0: that means "unknown", not a stopped CPU.
    return float(freq.current) if freq is not None and freq.current > 0 else None
