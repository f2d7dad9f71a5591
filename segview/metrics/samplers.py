"""System and power samplers: one number per read, or None where the machine does not expose it.

A reading the machine cannot give is reported as None (unavailable), never
as 0: a 0 W power draw or a 0 MHz clock would be a lie that plots and
averages silently. Whether a sampler can work at all is decided once, at
construction, and explained in ``unavailable_reason``.

Every sysfs sampler takes ``sysfs_root`` so tests can build a fake tree.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psutil

Clock = Callable[[], float]

SYSFS = Path("/sys")

# Keys of the power samplers end with this suffix; recordings use it to find
# the readings they can turn into energy per frame.
POWER_SUFFIX = "_power_w"


def is_power_key(key: str) -> bool:
    return key.endswith(POWER_SUFFIX)


def _read_text(path: Path) -> str:
    # One place that touches sysfs files, so tests can make a file unreadable
    # even when they run as root (who can read a chmod 000 file).
    return path.read_text(encoding="ascii").strip()


def _read_int(path: Path) -> int:
    return int(_read_text(path))


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


class Sampler:
    """One metric. ``read()`` runs on whichever thread samples (the MetricsHub's thread).

    Subclasses set ``key``, ``label`` and ``unit`` and implement ``_read``;
    they call ``_unavailable(reason)`` in their constructor when the machine
    does not expose what they measure. ``note`` says why the latest read gave
    None although the sampler is available (e.g. "charging").
    """

    key = ""
    label = ""
    unit = ""

    def __init__(self) -> None:
        self.available = True
        self.unavailable_reason = ""
        self.note = ""

    def _unavailable(self, reason: str) -> None:
        self.available = False
        self.unavailable_reason = reason

    def read(self) -> float | None:
        """The current value, or None when there is none (sampler thread)."""
        if not self.available:
            return None
        return self._read()

    def _read(self) -> float | None:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the sampler holds (NVML); called once when sampling ends."""

    def __repr__(self) -> str:
        state = "available" if self.available else f"unavailable: {self.unavailable_reason}"
        return f"<{type(self).__name__} {self.key} ({state})>"


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
                khz.append(_read_int(path))
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


_PACKAGE_ZONE = re.compile(r"intel-rapl:\d+")


class RaplPowerSampler(Sampler):
    """CPU package power from RAPL energy counters: the change in ``energy_uj`` over the time between reads.

    Only top-level zones (``intel-rapl:N``) whose name is ``package-*`` are
    summed: subzones (``intel-rapl:N:M``: cores, uncore, dram) are inside
    their package, and ``psys`` (the whole platform) already contains it.
    Since Linux 5.10 ``energy_uj`` is readable by root only; then the
    sampler is unavailable and says so.
    """

    key = "rapl_power_w"
    label = "CPU package power (RAPL)"
    unit = "W"

    def __init__(self, sysfs_root: Path = SYSFS, *, clock: Clock = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        base = Path(sysfs_root) / "class" / "powercap"
        zones = sorted(p for p in base.glob("intel-rapl:*") if _PACKAGE_ZONE.fullmatch(p.name))
        zones = [z for z in zones if _zone_name(z).startswith("package")]
        if not zones:
            self._unavailable(f"no RAPL package zones in {base}")
            return
        self._zones = zones
        self._ranges: list[int | None] = []
        for zone in zones:
            try:
                self._ranges.append(_read_int(zone / "max_energy_range_uj"))
            except (OSError, ValueError):
                self._ranges.append(None)  # only needed when the counter wraps
        try:
            self._last = self._energies()
        except PermissionError:
            self._unavailable(f"cannot read {zones[0] / 'energy_uj'}: permission denied (RAPL counters are root-only on Linux 5.10 and later)")
            return
        except (OSError, ValueError) as exc:
            self._unavailable(f"cannot read {zones[0] / 'energy_uj'}: {_why(exc) if isinstance(exc, OSError) else exc}")
            return
        self._last_t = clock()

    def _energies(self) -> list[int]:
        return [_read_int(zone / "energy_uj") for zone in self._zones]

    def _read(self) -> float | None:
        try:
            energies = self._energies()
        except (OSError, ValueError):
            self.note = "energy counter unreadable"
            return None
        now = self._clock()
        elapsed = now - self._last_t
        total_uj = 0
        wrapped_unknown = False
        for before, after, span in zip(self._last, energies, self._ranges):
            if after >= before:
                total_uj += after - before
            elif span:
                total_uj += after + span - before
            else:
                wrapped_unknown = True
        self._last, self._last_t = energies, now
        if elapsed <= 0 or wrapped_unknown:
            self.note = "counter wrapped without a known range" if wrapped_unknown else "no time passed"
            return None
        self.note = ""
        return total_uj / 1e6 / elapsed


def _zone_name(zone: Path) -> str:
    try:
        return _read_text(zone / "name")
    except OSError:
        return "package"  # an unnamed top-level zone is a package on every kernel seen so far


class BatteryPowerSampler(Sampler):
    """Power drawn from the battery, only while it discharges (on mains it says nothing about the load).

    ``power_now`` is in µW; batteries that only report ``current_now`` (µA)
    and ``voltage_now`` (µV) give their product. ``state`` is the latest
    battery status in lower case ("discharging", "charging", "full", ...).
    """

    key = "battery_power_w"
    label = "Battery discharge power"
    unit = "W"

    def __init__(self, sysfs_root: Path = SYSFS) -> None:
        super().__init__()
        self.state = "unknown"
        base = Path(sysfs_root) / "class" / "power_supply"
        batteries = []
        for supply in sorted(base.glob("*")):
            try:
                kind = _read_text(supply / "type")
            except OSError:
                continue
            has_power = (supply / "power_now").exists()
            has_current = (supply / "current_now").exists() and (supply / "voltage_now").exists()
            if kind == "Battery" and (has_power or has_current):
                batteries.append(supply)
        if not batteries:
            self._unavailable(f"no battery reporting power_now or current_now and voltage_now in {base}")
            return
        self._batteries = batteries

    def _read(self) -> float | None:
        total = 0.0
        discharging = 0
        states = []
        for battery in self._batteries:
            try:
                state = _read_text(battery / "status").lower()
            except OSError:
                state = "unknown"
            states.append(state)
            if state != "discharging":
                continue
            watts = _battery_watts(battery)
            if watts is not None:
                total += watts
                discharging += 1
        if discharging:
            self.state, self.note = "discharging", ""
            return total
        self.state = "discharging" if "discharging" in states else states[0]
        # On mains the battery says nothing about the load, whether it charges or sits full.
        self.note = "battery power unreadable" if self.state == "discharging" else "charging"
        return None


def _battery_watts(battery: Path) -> float | None:
    # Some drivers report discharge as a negative current or power: the magnitude is the draw.
    try:
        return abs(_read_int(battery / "power_now")) / 1e6
    except (OSError, ValueError):
        pass
    try:
        return abs(_read_int(battery / "current_now")) * abs(_read_int(battery / "voltage_now")) / 1e12
    except (OSError, ValueError):
        return None


class NvidiaPowerSampler(Sampler):
    """Board power of every NVIDIA GPU together, through NVML (``pynvml`` from nvidia-ml-py, if installed)."""

    key = "gpu_power_w"
    label = "NVIDIA board power"
    unit = "W"

    def __init__(self) -> None:
        super().__init__()
        self._nvml = None
        try:
            import pynvml  # optional: not a segview dependency
        except ImportError:
            self._unavailable("pynvml (nvidia-ml-py) is not installed")
            return
        try:
            pynvml.nvmlInit()
        except Exception as exc:  # NVMLError and its many subclasses; no driver, no GPU
            self._unavailable(f"NVML did not start: {exc}")
            return
        self._nvml = pynvml
        try:
            count = pynvml.nvmlDeviceGetCount()
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            if not self._handles:
                raise RuntimeError("no NVIDIA GPU found")
            self._read_mw()
        except Exception as exc:
            self._unavailable(f"NVML gives no board power: {exc}")
            self.close()

    def _read_mw(self) -> int:
        return sum(self._nvml.nvmlDeviceGetPowerUsage(h) for h in self._handles)

    def _read(self) -> float | None:
        try:
            return self._read_mw() / 1000.0
        except Exception as exc:
            self.note = f"NVML: {exc}"
            return None

    def close(self) -> None:
        if self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except Exception:
                pass
            self._nvml = None


def default_samplers(sysfs_root: Path = SYSFS) -> list[Sampler]:
    """Every sampler segview knows, available or not (so the UI can say what is missing and why)."""
    return [
        ProcessCpuSampler(),
        ProcessMemorySampler(),
        CpuClockSampler(sysfs_root),
        RaplPowerSampler(sysfs_root),
        BatteryPowerSampler(sysfs_root),
        NvidiaPowerSampler(),
    ]


SAMPLER_TYPES: Sequence[type[Sampler]] = (
    ProcessCpuSampler,
    ProcessMemorySampler,
    CpuClockSampler,
    RaplPowerSampler,
    BatteryPowerSampler,
    NvidiaPowerSampler,
)


def describe_key(key: str) -> tuple[str, str]:
    """(label, unit) of a metric key, for recordings read back without their samplers."""
    for kind in SAMPLER_TYPES:
        if kind.key == key:
            return kind.label, kind.unit
    return key, "W" if is_power_key(key) else ""
