"""Process CPU and memory, sampled on a background thread."""

from __future__ import annotations

import os
import platform
import threading
import time
from dataclasses import dataclass

import psutil


@dataclass(frozen=True, slots=True)
class ProcessUsage:
    cpu_percent: float  # 100 = one core fully busy
    peak_rss_mb: float
    wall_s: float


class ProcessSampler:
    """Measures CPU time over a span and the peak resident memory within it (10 Hz sampling)."""

    def __init__(self, interval_s: float = 0.1) -> None:
        self._process = psutil.Process()
        self._interval = interval_s
        self._stop = threading.Event()
        self._peak_rss = 0
        self._thread = threading.Thread(target=self._loop, name="segview-process-sampler", daemon=True)

    def start(self) -> None:
        self._t0 = time.perf_counter()
        self._cpu0 = self._process.cpu_times()
        self._peak_rss = self._process.memory_info().rss
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._peak_rss = max(self._peak_rss, self._process.memory_info().rss)

    def stop(self) -> ProcessUsage:
        self._stop.set()
        self._thread.join()
        wall = time.perf_counter() - self._t0
        cpu1 = self._process.cpu_times()
        busy = (cpu1.user - self._cpu0.user) + (cpu1.system - self._cpu0.system)
        self._peak_rss = max(self._peak_rss, self._process.memory_info().rss)
        return ProcessUsage(cpu_percent=100.0 * busy / wall if wall > 0 else 0.0, peak_rss_mb=self._peak_rss / 2**20, wall_s=wall)


def machine_info() -> dict[str, object]:
    import onnxruntime as ort

    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "onnxruntime": ort.__version__,
        "providers": ort.get_available_providers(),
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
