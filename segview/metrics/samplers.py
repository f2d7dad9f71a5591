"""The samplers segview knows, and what a metric key means once its sampler is gone.

Each sampler lives with its kind: the base class and sysfs reading in
:mod:`segview.metrics.sampler_base`, this process and its CPU in
:mod:`segview.metrics.cpu_samplers`, power in :mod:`segview.metrics.power_samplers`.
Their names are imported here as well, where segview has always found them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from segview.metrics.cpu_samplers import MIN_CPU_SPAN_S, CpuClockSampler, ProcessCpuSampler, ProcessMemorySampler
from segview.metrics.power_samplers import BatteryPowerSampler, NvidiaPowerSampler, RaplPowerSampler
from segview.metrics.sampler_base import POWER_SUFFIX, SYSFS, Clock, Sampler, is_power_key

__all__ = [
    "MIN_CPU_SPAN_S",
    "POWER_SUFFIX",
    "SAMPLER_TYPES",
    "SYSFS",
    "BatteryPowerSampler",
    "Clock",
    "CpuClockSampler",
    "NvidiaPowerSampler",
    "ProcessCpuSampler",
    "ProcessMemorySampler",
    "RaplPowerSampler",
    "Sampler",
    "default_samplers",
    "describe_key",
    "is_power_key",
]


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
