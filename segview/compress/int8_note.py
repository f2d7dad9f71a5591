"""What to expect from int8 on this CPU, said before a run (the wizard's note, ``segview compress --list-steps``).

Measured on this model family at one thread (issue 14, README "Compression"):
onnxruntime's int8 kernels lose to float both on a Xeon with VNNI (0.87x) and
on an AMD EPYC without it (0.69x); a quantized fast student ran at 0.53x. So
int8 is kept for size and accuracy, and nobody should tick it hoping for speed.
Plain Python (no onnxruntime), so the wizard can say it as soon as a step is ticked.
"""

from __future__ import annotations

import functools
import platform

# The slowest and fastest int8/float ratios measured (AMD EPYC without VNNI, Xeon with VNNI).
MEASURED = (0.69, 0.87)
VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "avx_vnni_int8"})


@functools.cache
def cpu_description() -> str:
    """This machine's CPU, read once: see :func:`describe_cpu`."""
    return describe_cpu("/proc/cpuinfo")


def describe_cpu(cpuinfo: str) -> str:
    """ "AMD EPYC, with VNNI": the CPU's model name and whether it has VNNI (name alone where flags are not readable)."""
    name, flags = "", None
    try:
        with open(cpuinfo, encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and not name:
                    name = value.strip()
                elif key.strip() == "flags" and flags is None:
                    flags = set(value.split())
                if name and flags is not None:
                    break
    except OSError:
        pass
    name = name or platform.processor() or platform.machine() or "unknown CPU"
    if flags is None:
        return name
    return f"{name}, {'with' if flags & VNNI_FLAGS else 'no'} VNNI"


def int8_note(cpu: str | None = None) -> str:
    """The one sentence, for the wizard and the command line alike."""
    low, high = MEASURED
    return (
        f"On this CPU ({cpu or cpu_description()}) onnxruntime's int8 kernels are slower than float for this model family "
        f"(measured {low:.2f}x to {high:.2f}x, with and without VNNI): int8 makes the model smaller "
        "(its weights take a quarter of the space), not faster."
    )


def makes_int8(step) -> bool:
    """Whether a step leaves int8 weights (its declaration, not its name)."""
    return getattr(step, "produces", None) == "int8"
