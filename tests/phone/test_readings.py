"""Phone readings: what makers do differently (milliamps or microamps, the sign of the current) gives the same watts."""

from __future__ import annotations

import pytest

from segview.phone.readings import (
    BatteryReading,
    cpu_khz,
    current_amps,
    parse_battery,
    parse_sysfs_lines,
    parse_thermal_status,
    thermal_name,
    volts,
)

DISCHARGING = """Current Battery Service state:
  AC powered: false
  USB powered: false
  Wireless powered: false
  status: 3
  level: 76
  scale: 100
  voltage: 3912
  temperature: 305
"""

CHARGING = DISCHARGING.replace("USB powered: false", "USB powered: true").replace("status: 3", "status: 2")


@pytest.mark.parametrize("raw", [-512000, 512000, -512, 512])
def test_microamp_and_milliamp_makers_give_the_same_power(raw):
    battery = parse_battery(DISCHARGING, raw)
    assert battery.current_a == pytest.approx(0.512)
    assert battery.discharge_power_w() == pytest.approx(0.512 * 3.912)


def test_explicit_units_and_voltage_scales():
    assert current_amps(900, "uA") == pytest.approx(0.0009)
    assert current_amps(900_000, "mA") == pytest.approx(900)
    with pytest.raises(ValueError):
        current_amps(1, "A")
    assert volts(3912) == pytest.approx(3.912)
    assert volts(3_912_000) == pytest.approx(3.912)
    assert volts(3.912) == pytest.approx(3.912)


def test_dumpsys_battery_fields():
    battery = parse_battery(DISCHARGING, None)
    assert battery == BatteryReading("discharging", (), 76.0, 3.912, 30.5, None)
    assert battery.discharge_power_w() is None  # no current: no power, never 0
    assert not battery.external_power
    # Some makers print the current in dumpsys battery itself.
    assert parse_battery(DISCHARGING + "  current now: -300\n").current_a == pytest.approx(0.3)
    with pytest.raises(ValueError):
        parse_battery("Can't find service: battery")


def test_charging_over_usb_gives_no_power():
    battery = parse_battery(CHARGING, 1_200_000)
    assert battery.status == "charging" and battery.plugged == ("usb",)
    assert battery.external_power and battery.charging_label == "charging (usb)"
    assert battery.discharge_power_w() is None
    # Plugged in and full (or "not charging"): the phone runs from USB, the battery says nothing about the load.
    full = parse_battery(CHARGING.replace("status: 2", "status: 5"), 0)
    assert full.external_power and full.discharge_power_w() is None


def test_thermal_status():
    assert parse_thermal_status("IsStatusOverride: false\nThermal Status: 3\nCached temperatures:\n") == 3
    assert parse_thermal_status("Can't find service: thermalservice") is None
    assert thermal_name(3) == "severe" and thermal_name(None) == "unknown"


def test_sysfs_lines_and_cpu_clocks():
    text = (
        "/sys/class/power_supply/battery/current_now:-451000\n"
        "/sys/devices/system/cpu/cpu10/cpufreq/scaling_cur_freq:2800000\n"
        "/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq:300000\n"
        "/sys/devices/system/cpu/cpu2/cpufreq/scaling_cur_freq:<unknown>\n"
        "grep: /sys/class/power_supply/bms/current_now: No such file or directory\n"
    )
    files = parse_sysfs_lines(text)
    assert files["/sys/class/power_supply/battery/current_now"] == "-451000"
    assert cpu_khz(files) == (300000, 2800000)  # core order, the unreadable core left out
