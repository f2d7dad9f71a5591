"""The learning-rate schedule of every distillation fine-tune (training a student, recovering a pruned model)."""

from __future__ import annotations

import math

# The warm-up's share of the run, and where the cosine ends (a share of the base rate).
WARM_UP = 0.03
FLOOR = 0.02


def learning_rate(base: float, fraction: float) -> float:
    """A short warm-up, then a cosine to 2% of the base: a time budget knows where it ends.
    ``fraction`` is the share of the run done, 0 to 1."""
    if fraction < WARM_UP:
        return base * (0.1 + 0.9 * fraction / WARM_UP)
    progress = (fraction - WARM_UP) / (1 - WARM_UP)
    return base * (FLOOR + (1 - FLOOR) * 0.5 * (1 + math.cos(math.pi * progress)))
