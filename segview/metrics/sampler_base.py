"""What every sampler is: one number per read, or None where the machine does not expose it.

A reading the machine cannot give is reported as None (unavailable), never
as 0: a 0 W power draw or a 0 MHz clock would be a lie that plots and
averages silently. Whether a sampler can work at all is decided once, at
construction, and explained in ``unavailable_reason``.

Every sysfs sampler takes ``sysfs_root`` so tests can build a fake tree.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

Clock = Callable[[], float]

SYSFS = Path("/sys")

# Keys of the power samplers end with this suffix; recordings use it to find
# the readings they can turn into energy per frame.
POWER_SUFFIX = "_power_w"


def is_power_key(key: str) -> bool:
    return key.endswith(POWER_SUFFIX)


def read_sysfs_text(path: Path) -> str:
    # One place that touches sysfs files, so tests can make a file unreadable
    # even when they run as root (who can read a chmod 000 file).
    return path.read_text(encoding="ascii").strip()


def read_sysfs_int(path: Path) -> int:
    return int(read_sysfs_text(path))


def os_reason(exc: OSError) -> str:
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
