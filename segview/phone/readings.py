"""Parsing what a phone says about its battery, temperature and clocks into typed readings (pure functions, any thread).

Makers differ, and this is where that is absorbed:

* battery current (sysfs ``current_now``) is in microamps on most phones and
  in milliamps on some; ``current_unit="auto"`` tells them apart by size (a
  phone draws between tens of milliamps and a few amps, so a magnitude of
  20 000 or more can only be microamps).
* its sign: some report discharge as negative, others as positive. The sign
  is ignored; the battery status from ``dumpsys battery`` says the direction.
* voltage: ``dumpsys battery`` gives millivolts; microvolts and volts are
  recognised by size too.

Power from the battery says what the phone draws only while it runs on the
battery. On USB power (a tethered phone usually charges) the battery current
is the charger's surplus, not the load: power is then not reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CHARGING_WARNING = "charging over USB: power readings are distorted (the battery current is the charger's surplus, not the phone's load)"

# dumpsys battery "status:" codes (android.os.BatteryManager).
_STATUS = {1: "unknown", 2: "charging", 3: "discharging", 4: "not charging", 5: "full"}
THERMAL_STATUS_NAMES = ("none", "light", "moderate", "severe", "critical", "emergency", "shutdown")

# Where phones keep the battery's current, in the order they are tried.
BATTERY_CURRENT_FILES = (
    "/sys/class/power_supply/battery/current_now",
    "/sys/class/power_supply/bms/current_now",
    "/sys/class/power_supply/Battery/current_now",
)
CPU_FREQ_GLOB = "/sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_cur_freq"
_CPU_FILE = re.compile(r"/sys/devices/system/cpu/cpu(\d+)/cpufreq/scaling_cur_freq")


@dataclass(frozen=True, slots=True)
class BatteryReading:
    status: str  # "charging", "discharging", "not charging", "full", "unknown"
    plugged: tuple[str, ...]  # power sources attached: "usb", "ac", "wireless", "dock"
    level_percent: float | None
    voltage_v: float | None
    temperature_c: float | None
    current_a: float | None  # magnitude; the direction comes from ``status``

    @property
    def external_power(self) -> bool:
        """Powered by a cable or charger: the battery current is then not the phone's load."""
        return bool(self.plugged) or self.status in ("charging", "full")

    @property
    def charging_label(self) -> str:
        source = "+".join(self.plugged)
        return f"{self.status} ({source})" if source else self.status

    def discharge_power_w(self) -> float | None:
        """What the phone draws from its battery; None on external power or without current and voltage."""
        if self.external_power or self.current_a is None or self.voltage_v is None or self.current_a <= 0:
            return None
        return self.current_a * self.voltage_v


@dataclass(frozen=True, slots=True)
class PhoneReading:
    """One poll of a phone. ``t`` is ``time.perf_counter()``; ``problem`` says what could not be read."""

    t: float
    battery: BatteryReading | None
    thermal_status: int | None
    cpu_khz: tuple[int, ...]  # per core online, in core order
    problem: str | None = None

    @property
    def cpu_mean_mhz(self) -> float | None:
        return sum(self.cpu_khz) / len(self.cpu_khz) / 1000.0 if self.cpu_khz else None

    @property
    def cpu_max_mhz(self) -> float | None:
        return max(self.cpu_khz) / 1000.0 if self.cpu_khz else None


def _fields(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out.setdefault(key.strip().lower(), value.strip())
    return out


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def current_amps(raw: float, unit: str = "auto") -> float:
    """A ``current_now`` value in amperes (magnitude). ``unit``: "auto", "uA" or "mA"."""
    magnitude = abs(raw)
    if unit == "mA" or (unit == "auto" and magnitude < 20_000):
        return magnitude / 1e3
    if unit in ("uA", "auto"):
        return magnitude / 1e6
    raise ValueError(f"current unit must be auto, uA or mA, not {unit!r}")


def volts(raw: float) -> float:
    """A battery voltage in volts from mV (dumpsys), µV (sysfs) or V."""
    if raw > 100_000:
        return raw / 1e6
    if raw > 100:
        return raw / 1e3
    return raw


def parse_battery(dumpsys: str, current_raw: float | None = None, *, current_unit: str = "auto") -> BatteryReading:
    """``dumpsys battery`` plus, where the phone lets us read it, sysfs ``current_now``."""
    f = _fields(dumpsys)
    if "status" not in f and "level" not in f:
        raise ValueError(f"not 'dumpsys battery' output: {dumpsys.strip()[:80]!r}")
    code = _number(f.get("status"))
    status = _STATUS.get(int(code), "unknown") if code is not None else "unknown"
    plugged = tuple(
        name
        for name, key in (("ac", "ac powered"), ("usb", "usb powered"), ("wireless", "wireless powered"), ("dock", "dock powered"))
        if f.get(key, "").lower() == "true"
    )
    level, scale = _number(f.get("level")), _number(f.get("scale")) or 100.0
    voltage = _number(f.get("voltage"))
    temperature = _number(f.get("temperature"))
    if current_raw is None:
        # Some makers print it in dumpsys battery (milliamps or microamps, like sysfs).
        current_raw = _number(f.get("current now"))
    return BatteryReading(
        status=status,
        plugged=plugged,
        level_percent=level * 100.0 / scale if level is not None and scale else None,
        voltage_v=volts(voltage) if voltage else None,
        temperature_c=temperature / 10.0 if temperature is not None else None,  # tenths of a degree
        current_a=current_amps(current_raw, current_unit) if current_raw is not None else None,
    )


_THERMAL = re.compile(r"^\s*Thermal Status:\s*(\d+)", re.MULTILINE | re.IGNORECASE)


def parse_thermal_status(dumpsys: str) -> int | None:
    """``dumpsys thermalservice``'s "Thermal Status: N" (0 none … 6 shutdown); None on phones without it (before Android 10)."""
    match = _THERMAL.search(dumpsys)
    return int(match.group(1)) if match else None


def thermal_name(status: int | None) -> str:
    if status is None:
        return "unknown"
    return THERMAL_STATUS_NAMES[status] if 0 <= status < len(THERMAL_STATUS_NAMES) else str(status)


def parse_sysfs_lines(text: str) -> dict[str, str]:
    """``grep -H . FILE...`` output ("PATH:VALUE" per line) as {path: value}."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        path, sep, value = line.partition(":")
        if sep and path.startswith("/"):
            values.setdefault(path, value.strip())
    return values


def battery_current_raw(files: dict[str, str]) -> float | None:
    for path in BATTERY_CURRENT_FILES:
        value = _number(files.get(path))
        if value is not None:
            return value
    return None


def cpu_khz(files: dict[str, str]) -> tuple[int, ...]:
    cores = []
    for path, value in files.items():
        match = _CPU_FILE.fullmatch(path)
        number = _number(value)
        if match and number is not None and number > 0:  # an offline core reads 0 or "<unknown>"
            cores.append((int(match.group(1)), int(number)))
    return tuple(khz for _, khz in sorted(cores))
