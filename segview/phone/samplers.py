"""MetricsHub samplers for a phone: power, battery temperature, thermal status, CPU clocks, charging.

They read the :class:`PhoneMonitor`'s latest poll, so ``read()`` (on the hub's
thread) never waits for the phone; the monitor starts polling on the first
read. A reading the phone does not give is None with a ``note`` saying why;
on USB power ``phone_power_w`` is None and its note is :data:`CHARGING_WARNING`.
"""

from __future__ import annotations

from segview.metrics.samplers import Sampler
from segview.phone.adb import Adb, AdbError, find_adb
from segview.phone.monitor import PhoneMonitor
from segview.phone.readings import CHARGING_WARNING, PhoneReading, thermal_name

__all__ = ["CHARGING_WARNING", "PhoneSampler", "phone_samplers"]


class PhoneSampler(Sampler):
    """Base: one value out of the monitor's latest reading. ``close()`` stops the shared monitor."""

    def __init__(self, monitor: PhoneMonitor, unavailable: str = "") -> None:
        super().__init__()
        self.monitor = monitor
        if unavailable:
            self._unavailable(unavailable)

    def _read(self) -> float | None:
        self.monitor.start()
        reading = self.monitor.fresh()
        if reading is None:
            latest = self.monitor.latest
            self.note = (latest.problem if latest and latest.problem else "") or "waiting for the phone to answer"
            return None
        value = self._value(reading)
        if value is None and not self.note:
            self.note = reading.problem or "the phone does not report this"
        return value

    def _value(self, reading: PhoneReading) -> float | None:
        raise NotImplementedError

    def close(self) -> None:
        self.monitor.close()


class PhonePowerSampler(PhoneSampler):
    """What the phone draws from its battery (current × voltage), only while it runs on the battery."""

    key = "phone_power_w"
    label = "Phone power (battery)"
    unit = "W"

    def _value(self, reading: PhoneReading) -> float | None:
        battery = reading.battery
        self.note = ""
        if battery is None:
            return None
        if battery.external_power:
            self.note = CHARGING_WARNING
            return None
        if battery.current_a is None:
            self.note = "the phone does not let adb read its battery current"
        return battery.discharge_power_w()


class PhoneBatteryTemperatureSampler(PhoneSampler):
    key = "phone_battery_temp_c"
    label = "Phone battery temperature"
    unit = "°C"

    def _value(self, reading: PhoneReading) -> float | None:
        self.note = ""
        return reading.battery.temperature_c if reading.battery else None


class PhoneThermalStatusSampler(PhoneSampler):
    """Android's thermal status: 0 none, 1 light, 2 moderate, 3 severe, 4 critical, 5 emergency, 6 shutdown."""

    key = "phone_thermal_status"
    label = "Phone thermal status (0 none … 6 shutdown)"
    unit = ""

    def _value(self, reading: PhoneReading) -> float | None:
        status = reading.thermal_status
        self.note = thermal_name(status) if status is not None else "no thermal status (Android 10 or later reports it)"
        return float(status) if status is not None else None


class _PhoneClockSampler(PhoneSampler):
    """Base of the CPU clock samplers: one figure (``_clock``) out of the cores' clocks, a note when there are none."""

    unit = "MHz"

    def _value(self, reading: PhoneReading) -> float | None:
        self.note = "" if reading.cpu_khz else "the phone does not let adb read its CPU clocks"
        return self._clock(reading)

    def _clock(self, reading: PhoneReading) -> float | None:
        raise NotImplementedError


class PhoneCpuClockSampler(_PhoneClockSampler):
    key = "phone_cpu_mhz"
    label = "Phone CPU clock (mean of cores)"

    def _clock(self, reading: PhoneReading) -> float | None:
        return reading.cpu_mean_mhz


class PhoneCpuMaxClockSampler(_PhoneClockSampler):
    key = "phone_cpu_max_mhz"
    label = "Phone CPU clock (fastest core)"

    def _clock(self, reading: PhoneReading) -> float | None:
        return reading.cpu_max_mhz


class PhoneChargingSampler(PhoneSampler):
    """1 while a cable or charger powers the phone (power readings are then distorted), 0 on its battery."""

    key = "phone_charging"
    label = "Phone on external power"
    unit = ""

    def __init__(self, monitor: PhoneMonitor, unavailable: str = "") -> None:
        super().__init__(monitor, unavailable)
        self.state = "unknown"

    def _value(self, reading: PhoneReading) -> float | None:
        battery = reading.battery
        if battery is None:
            return None
        self.state = battery.charging_label
        self.note = CHARGING_WARNING if battery.external_power else ""
        return 1.0 if battery.external_power else 0.0


SAMPLER_TYPES = (
    PhonePowerSampler,
    PhoneBatteryTemperatureSampler,
    PhoneThermalStatusSampler,
    PhoneCpuClockSampler,
    PhoneCpuMaxClockSampler,
    PhoneChargingSampler,
)


def phone_samplers(serial: str | None, *, adb: Adb | None = None, interval_s: float = 1.0, current_unit: str = "auto") -> list[Sampler]:
    """Every phone sampler over one shared monitor (``serial`` None: the only phone attached).

    Without adb they are all unavailable and say how to install it. Polling
    starts on the first ``read()`` and stops on the first ``close()``.
    """
    unavailable = ""
    if adb is None:
        try:
            adb = find_adb()
        except AdbError as exc:
            unavailable = str(exc)
    monitor = PhoneMonitor(serial, adb=adb, interval_s=interval_s, current_unit=current_unit)
    return [kind(monitor, unavailable) for kind in SAMPLER_TYPES]
