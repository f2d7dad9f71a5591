"""System and power samplers over fake sysfs trees, and the MetricsHub that samples them."""

import math
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from segview.metrics import cpu_samplers, sampler_base
from segview.metrics.hub import MetricsHub, MetricsSample, energy_per_frame_mj
from segview.metrics.samplers import (
    BatteryPowerSampler,
    CpuClockSampler,
    NvidiaPowerSampler,
    ProcessCpuSampler,
    ProcessMemorySampler,
    RaplPowerSampler,
    Sampler,
    default_samplers,
    describe_key,
)


def _write(path: Path, text: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{text}\n")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# -- RAPL -------------------------------------------------------------------------


def _rapl_zone(root: Path, zone: str, *, name: str, energy: int, max_range: int | None = 1_000_000_000) -> Path:
    folder = root / "class" / "powercap" / zone
    _write(folder / "name", name)
    _write(folder / "energy_uj", energy)
    if max_range is not None:
        _write(folder / "max_energy_range_uj", max_range)
    return folder


def test_rapl_sums_packages_not_subzones_or_psys(tmp_path):
    p0 = _rapl_zone(tmp_path, "intel-rapl:0", name="package-0", energy=1_000_000)
    p1 = _rapl_zone(tmp_path, "intel-rapl:1", name="package-1", energy=5_000_000)
    core = _rapl_zone(tmp_path, "intel-rapl:0:0", name="core", energy=0)
    psys = _rapl_zone(tmp_path, "intel-rapl:2", name="psys", energy=0)
    clock = FakeClock()
    sampler = RaplPowerSampler(tmp_path, clock=clock)
    assert sampler.available, sampler.unavailable_reason
    clock.now += 2.0
    _write(p0 / "energy_uj", 1_000_000 + 20_000_000)  # 20 J in 2 s: 10 W
    _write(p1 / "energy_uj", 5_000_000 + 10_000_000)  # 10 J in 2 s: 5 W
    _write(core / "energy_uj", 99_000_000)  # inside package-0: must not count twice
    _write(psys / "energy_uj", 99_000_000)  # the whole platform: contains the packages
    assert sampler.read() == pytest.approx(15.0)


def test_rapl_handles_counter_wrap(tmp_path):
    zone = _rapl_zone(tmp_path, "intel-rapl:0", name="package-0", energy=999_000_000, max_range=1_000_000_000)
    clock = FakeClock()
    sampler = RaplPowerSampler(tmp_path, clock=clock)
    clock.now += 1.0
    _write(zone / "energy_uj", 4_000_000)  # wrapped: 1 J to the top, then 4 J
    assert sampler.read() == pytest.approx(5.0)
    clock.now += 1.0
    _write(zone / "energy_uj", 7_000_000)
    assert sampler.read() == pytest.approx(3.0)


def test_rapl_wrap_without_known_range_is_none_not_zero(tmp_path):
    zone = _rapl_zone(tmp_path, "intel-rapl:0", name="package-0", energy=900, max_range=None)
    clock = FakeClock()
    sampler = RaplPowerSampler(tmp_path, clock=clock)
    clock.now += 1.0
    _write(zone / "energy_uj", 100)
    assert sampler.read() is None and "wrapped" in sampler.note


def test_rapl_missing_is_unavailable(tmp_path):
    sampler = RaplPowerSampler(tmp_path)
    assert not sampler.available and sampler.read() is None
    assert "no RAPL" in sampler.unavailable_reason


def test_rapl_root_only_counter_is_unavailable_with_reason(tmp_path, monkeypatch):
    _rapl_zone(tmp_path, "intel-rapl:0", name="package-0", energy=1)
    real = sampler_base.read_sysfs_text

    def deny(path):
        if path.name == "energy_uj":
            raise PermissionError(13, "Permission denied")
        return real(path)

    # Tests may run as root, who reads a chmod 000 file anyway: deny it here instead.
    monkeypatch.setattr(sampler_base, "read_sysfs_text", deny)
    sampler = RaplPowerSampler(tmp_path)
    assert not sampler.available and sampler.read() is None
    assert "permission denied" in sampler.unavailable_reason and "root" in sampler.unavailable_reason


# -- battery ----------------------------------------------------------------------


def _battery(root: Path, name: str = "BAT0", *, status: str = "Discharging", **files: int) -> Path:
    folder = root / "class" / "power_supply" / name
    _write(folder / "type", "Battery")
    _write(folder / "status", status)
    for key, value in files.items():
        _write(folder / key, value)
    return folder


def test_battery_power_now(tmp_path):
    _write(tmp_path / "class" / "power_supply" / "AC" / "type", "Mains")
    _battery(tmp_path, power_now=12_500_000)  # µW
    sampler = BatteryPowerSampler(tmp_path)
    assert sampler.available
    assert sampler.read() == pytest.approx(12.5) and sampler.state == "discharging"


def test_battery_current_times_voltage(tmp_path):
    # Some drivers report discharge as a negative current.
    _battery(tmp_path, current_now=-1_500_000, voltage_now=11_000_000)  # 1.5 A x 11 V
    assert BatteryPowerSampler(tmp_path).read() == pytest.approx(16.5)


def test_battery_charging_is_none_with_reason(tmp_path):
    folder = _battery(tmp_path, status="Charging", power_now=30_000_000)
    sampler = BatteryPowerSampler(tmp_path)
    assert sampler.available
    assert sampler.read() is None
    assert sampler.state == "charging" and sampler.note == "charging"
    _write(folder / "status", "Discharging")
    assert sampler.read() == pytest.approx(30.0) and sampler.note == ""


def test_battery_missing_is_unavailable(tmp_path):
    _write(tmp_path / "class" / "power_supply" / "AC" / "type", "Mains")
    sampler = BatteryPowerSampler(tmp_path)
    assert not sampler.available and sampler.read() is None
    assert "no battery" in sampler.unavailable_reason


# -- CPU clock, process, NVML ---------------------------------------------------------


def test_cpu_clock_averages_cores(tmp_path):
    cpu = tmp_path / "devices" / "system" / "cpu"
    _write(cpu / "cpu0" / "cpufreq" / "scaling_cur_freq", 2_000_000)  # kHz
    _write(cpu / "cpu1" / "cpufreq" / "scaling_cur_freq", 3_000_000)
    _write(cpu / "cpufreq" / "policy0" / "scaling_cur_freq", 9_999_999)  # not a core
    sampler = CpuClockSampler(tmp_path, use_psutil=False)
    assert sampler.read() == pytest.approx(2500.0)


def test_cpu_clock_missing_is_unavailable_not_zero(tmp_path):
    sampler = CpuClockSampler(tmp_path, use_psutil=False)
    assert not sampler.available and sampler.read() is None
    assert "no cpufreq" in sampler.unavailable_reason


def test_cpu_clock_zero_is_unknown(tmp_path, monkeypatch):
    _write(tmp_path / "devices" / "system" / "cpu" / "cpu0" / "cpufreq" / "scaling_cur_freq", 0)
    monkeypatch.setattr(cpu_samplers, "_psutil_mhz", lambda: None)
    assert not CpuClockSampler(tmp_path).available


def test_process_samplers_read_this_process():
    # Burn a known amount of this process's CPU time (not of wall-clock time: on a busy machine
    # that could be mostly waiting), then the share is at least that CPU time over the wall time
    # around the sampler's span, however busy the machine is. Less 20 ms: psutil counts 10 ms ticks.
    started = time.monotonic()
    cpu = ProcessCpuSampler()
    burn_until = time.process_time() + 0.3
    while time.process_time() < burn_until:
        pass
    busy = cpu.read()
    wall = time.monotonic() - started
    assert 100.0 * (0.3 - 0.02) / wall <= busy <= 100.0 * os.cpu_count() + 10.0
    assert ProcessMemorySampler().read() > 1.0


def test_process_cpu_read_again_within_a_clock_tick_repeats_the_last_figure(monkeypatch):
    # CPU times advance in 10 ms ticks: a fresh figure over 1 ms could read 1000%.
    # The sampler's clock is the test's, so a preempted test cannot stretch "within" past the limit.
    now = [100.0]
    monkeypatch.setattr(cpu_samplers, "time", type("Clock", (), {"monotonic": staticmethod(lambda: now[0])}))
    cpu = ProcessCpuSampler()
    burn_until = time.process_time() + 0.05  # real CPU time, so the first figure is not 0
    while time.process_time() < burn_until:
        pass
    now[0] += cpu_samplers.MIN_CPU_SPAN_S + 0.05
    first = cpu.read()
    assert first is not None and first > 0.0
    now[0] += cpu_samplers.MIN_CPU_SPAN_S / 20  # 12 ms later
    assert cpu.read() == first


def test_nvidia_without_nvml_is_unavailable(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pynvml(name, *args, **kwargs):
        if name == "pynvml":
            raise ImportError("no pynvml")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pynvml)
    sampler = NvidiaPowerSampler()
    assert not sampler.available and sampler.read() is None
    assert "pynvml" in sampler.unavailable_reason


class FakeNvml:
    """Stands in for pynvml: test machines rarely have an NVIDIA GPU (or the package)."""

    def __init__(self, milliwatts, *, init_error=None):
        self.milliwatts = milliwatts
        self.init_error = init_error
        self.shut_down = False

    def nvmlInit(self):
        if self.init_error:
            raise RuntimeError(self.init_error)

    def nvmlDeviceGetCount(self):
        return len(self.milliwatts)

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetPowerUsage(self, handle):
        return self.milliwatts[handle]

    def nvmlShutdown(self):
        self.shut_down = True


def test_nvidia_sums_board_power_and_shuts_nvml_down(monkeypatch):
    fake = FakeNvml([70_000, 35_500])
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    sampler = NvidiaPowerSampler()
    assert sampler.available and sampler.read() == pytest.approx(105.5)
    sampler.close()
    assert fake.shut_down


@pytest.mark.parametrize("fake, reason", [(FakeNvml([], init_error="Driver Not Loaded"), "Driver Not Loaded"), (FakeNvml([]), "no NVIDIA GPU")])
def test_nvidia_without_driver_or_gpu_is_unavailable(monkeypatch, fake, reason):
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    sampler = NvidiaPowerSampler()
    assert not sampler.available and reason in sampler.unavailable_reason and sampler.read() is None


def test_default_samplers_never_report_zero_for_missing(tmp_path):
    for sampler in default_samplers(tmp_path):
        if not sampler.available:
            assert sampler.read() is None and sampler.unavailable_reason
    assert describe_key("rapl_power_w") == ("CPU package power (RAPL)", "W")


# -- hub --------------------------------------------------------------------------


class CountingSampler(Sampler):
    key, label, unit = "count", "Count", ""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0
        self.closed = False

    def _read(self):
        self.n += 1
        return float(self.n)

    def close(self):
        self.closed = True


class MissingSampler(Sampler):
    key, label, unit = "missing_power_w", "Missing", "W"

    def __init__(self) -> None:
        super().__init__()
        self._unavailable("not on this machine")


class BrokenSampler(Sampler):
    key, label, unit = "broken", "Broken", ""

    def _read(self):
        raise RuntimeError("driver fell over")


def test_hub_collects_samples_and_stops_cleanly():
    counting = CountingSampler()
    hub = MetricsHub([counting, MissingSampler(), BrokenSampler()], interval_s=0.01, window_s=60)
    received: list[MetricsSample] = []
    got_five = threading.Event()

    def subscriber(sample):
        assert threading.current_thread().name == "segview-metrics"
        received.append(sample)
        if len(received) >= 5:
            got_five.set()

    hub.subscribe(subscriber)
    hub.start()
    assert got_five.wait(60.0)  # generous: returns as soon as the fifth sample is in
    hub.stop()
    assert not hub.running and counting.closed
    settled = len(received)
    time.sleep(0.05)
    assert len(received) == settled  # nothing after stop

    series = hub.snapshot()
    assert list(series) == ["count", "missing_power_w", "broken"]
    count = series["count"]
    assert len(count.t) == len(count.values) >= 5 and np.all(np.diff(count.t) > 0)
    assert list(count.values[:3]) == [1.0, 2.0, 3.0]
    missing = series["missing_power_w"]
    assert not missing.available and missing.unavailable_reason == "not on this machine"
    assert np.isnan(missing.values).all() and missing.latest is None
    assert np.isnan(series["broken"].values).all() and "driver fell over" in hub.problem
    latest = hub.latest()
    assert latest.values["missing_power_w"] is None and latest.values["count"] == count.values[-1]


def test_hub_window_drops_old_samples_and_snapshot_is_a_copy():
    hub = MetricsHub([CountingSampler()], interval_s=1.0, window_s=0.05)
    first = hub.sample_now()
    snap = hub.snapshot()
    time.sleep(0.1)
    hub.sample_now()
    after = hub.snapshot()["count"]
    assert len(after.values) == 1 and after.values[0] == 2.0 and after.t[0] > first.t
    assert snap["count"].values.tolist() == [1.0]


def test_hub_subscriber_failure_does_not_stop_sampling():
    hub = MetricsHub([CountingSampler()], interval_s=1.0)
    hub.subscribe(lambda s: 1 / 0)
    seen = []
    hub.subscribe(seen.append)
    hub.sample_now()
    assert len(seen) == 1 and "subscriber" in hub.problem


def test_energy_per_frame():
    assert energy_per_frame_mj(15.0, 30.0) == pytest.approx(500.0)
    assert energy_per_frame_mj(None, 30.0) is None
    assert energy_per_frame_mj(15.0, 0.0) is None
    assert energy_per_frame_mj(15.0, math.nan) is None
    assert energy_per_frame_mj(math.nan, 30.0) is None
