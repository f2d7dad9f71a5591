"""Power samplers, in watts: CPU package (RAPL), battery discharge and NVIDIA board power."""

from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path

from segview.metrics.sampler_base import SYSFS, Clock, Sampler, os_reason, read_sysfs_int, read_sysfs_text

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
                self._ranges.append(read_sysfs_int(zone / "max_energy_range_uj"))
            except (OSError, ValueError):
                self._ranges.append(None)  # only needed when the counter wraps
        try:
            self._last = self._energies()
        except PermissionError:
            self._unavailable(f"cannot read {zones[0] / 'energy_uj'}: permission denied (RAPL counters are root-only on Linux 5.10 and later)")
            return
        except (OSError, ValueError) as exc:
            self._unavailable(f"cannot read {zones[0] / 'energy_uj'}: {os_reason(exc) if isinstance(exc, OSError) else exc}")
            return
        self._last_t = clock()

    def _energies(self) -> list[int]:
        return [read_sysfs_int(zone / "energy_uj") for zone in self._zones]

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
        for before, after, span in zip(self._last, energies, self._ranges, strict=True):  # one of each per zone
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
        return read_sysfs_text(zone / "name")
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
                kind = read_sysfs_text(supply / "type")
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
                state = read_sysfs_text(battery / "status").lower()
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
        return abs(read_sysfs_int(battery / "power_now")) / 1e6
    except (OSError, ValueError):
        pass
    try:
        return abs(read_sysfs_int(battery / "current_now")) * abs(read_sysfs_int(battery / "voltage_now")) / 1e12
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
        if self._nvml is None:
            raise RuntimeError("NVML is shut down")
        return sum(self._nvml.nvmlDeviceGetPowerUsage(h) for h in self._handles)

    def _read(self) -> float | None:
        try:
            return self._read_mw() / 1000.0
        except Exception as exc:
            self.note = f"NVML: {exc}"
            return None

    def close(self) -> None:
        if self._nvml is not None:
            with contextlib.suppress(Exception):  # NVMLError: closing is best effort
                self._nvml.nvmlShutdown()
            self._nvml = None
