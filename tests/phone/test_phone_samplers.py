"""Phone metrics through the fake adb, as the studio's MetricsHub samples them."""

from __future__ import annotations

import threading
import time

import pytest

from fake_adb.fakephone import SERIAL
from segview.metrics.hub import MetricsHub, energy_per_frame_mj
from segview.metrics.samplers import is_power_key
from segview.phone.monitor import PhoneMonitor
from segview.phone.samplers import CHARGING_WARNING, phone_samplers


def sample(samplers, timeout: float = 30.0) -> dict[str, float | None]:
    """Read until the monitor has polled once (the first read starts it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        values = {s.key: s.read() for s in samplers}
        if samplers[0].monitor.latest is not None:
            return values
        time.sleep(0.05)
    raise AssertionError("the phone monitor never polled")


@pytest.fixture
def samplers(fake_phone):
    made = []

    def make(serial=SERIAL, **kw):
        group = phone_samplers(serial, interval_s=0.2, **kw)
        made.append(group)
        return group

    yield make
    for group in made:
        group[0].close()


def test_phone_metrics(samplers):
    group = samplers()
    values = sample(group)
    assert values == pytest.approx(
        {
            "phone_power_w": 0.45 * 3.9,
            "phone_battery_temp_c": 31.2,
            "phone_thermal_status": 1.0,
            "phone_cpu_mhz": 2000.0,  # mean of the three cores online
            "phone_cpu_max_mhz": 2400.0,
            "phone_charging": 0.0,
        }
    )
    power = group[0]
    assert is_power_key(power.key) and power.unit == "W" and power.available and power.note == ""
    assert group[2].note == "light"


@pytest.mark.parametrize("raw", [450000, -450, 450])
def test_milliamp_and_microamp_makers_give_the_same_watts(fake_phone, raw):
    fake_phone.set_battery(current_now=raw)
    reading = PhoneMonitor(SERIAL).poll_once()
    assert reading.problem is None
    assert reading.battery.discharge_power_w() == pytest.approx(0.45 * 3.9)


def test_current_from_another_sysfs_folder_or_dumpsys(fake_phone):
    fake_phone.set_battery(current_file="/sys/class/power_supply/bms/current_now")
    assert PhoneMonitor(SERIAL).poll_once().battery.current_a == pytest.approx(0.45)
    fake_phone.set_battery(current_in_dumpsys=True, current_now=-300)
    assert PhoneMonitor(SERIAL).poll_once().battery.current_a == pytest.approx(0.3)


def test_charging_over_usb_warns_and_gives_no_power(fake_phone, samplers):
    fake_phone.set_battery(status=2, usb=True, current_now=800000)
    group = samplers()
    values = sample(group)
    power, charging = group[0], group[5]
    assert values["phone_power_w"] is None and values["phone_charging"] == 1.0
    assert power.note == CHARGING_WARNING and charging.note == CHARGING_WARNING
    assert power.note.startswith("charging over USB: power readings are distorted")
    assert charging.state == "charging (usb)"
    # Unplugged: the warning goes, the power comes.
    fake_phone.set_battery(status=3, usb=False)
    deadline = time.monotonic() + 30
    while group[0].read() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert group[0].read() == pytest.approx(0.8 * 3.9) and group[0].note == ""


def test_what_the_phone_does_not_report_is_none_with_a_reason(fake_phone, samplers):
    fake_phone.set_device(thermal_status=None, cpu_khz=[])
    fake_phone.set_battery(current_file="/sys/nowhere/current_now")
    group = samplers()
    values = sample(group)
    assert values["phone_power_w"] is None and "battery current" in group[0].note
    assert values["phone_thermal_status"] is None and "Android 10" in group[2].note
    assert values["phone_cpu_mhz"] is None and "CPU clocks" in group[3].note
    assert values["phone_battery_temp_c"] == pytest.approx(31.2)


def test_the_only_phone_and_a_vanished_phone(fake_phone, samplers):
    group = samplers(None)
    assert sample(group)["phone_battery_temp_c"] == pytest.approx(31.2)
    reading = PhoneMonitor("GONE").poll_once()
    assert reading.battery is None and "device 'GONE' not found" in reading.problem


def test_without_adb_the_samplers_say_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    group = phone_samplers(SERIAL)
    assert all(not s.available and "apt-get install adb" in s.unavailable_reason for s in group)
    assert [s.read() for s in group] == [None] * len(group)


def test_metrics_hub_samples_the_phone_on_its_own_thread(samplers, monkeypatch):
    group = samplers()
    hub = MetricsHub(group, interval_s=0.1)
    release = threading.Event()
    hub.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            latest = hub.latest()
            if latest is not None and latest.values["phone_power_w"] is not None:
                break
            time.sleep(0.05)
        series = hub.snapshot()
        assert list(series) == ["phone_power_w", "phone_battery_temp_c", "phone_thermal_status", "phone_cpu_mhz", "phone_cpu_max_mhz", "phone_charging"]
        assert series["phone_power_w"].latest == pytest.approx(1.755)
        assert energy_per_frame_mj(series["phone_power_w"].latest, 30.0) == pytest.approx(58.5)
        # A read never waits for adb: with the monitor held inside a poll (as if adb hung), a read
        # on another thread still comes back. Events, not a time limit, so a busy machine cannot fail it.
        monitor, polling, sampled = group[0].monitor, threading.Event(), threading.Event()
        poll_once = monitor.poll_once
        monkeypatch.setattr(monitor, "poll_once", lambda: (polling.set(), release.wait(120), poll_once())[-1])
        assert polling.wait(30)
        threading.Thread(target=lambda: (hub.sample_now(), sampled.set()), daemon=True).start()
        assert sampled.wait(30) and not release.is_set()
    finally:
        release.set()
        hub.stop()
    assert not group[0].monitor._thread.is_alive() or group[0].monitor._stop.is_set()
