"""Intersection over union between masks."""

from __future__ import annotations

import numpy as np


def binary_iou(predicted: np.ndarray, truth: np.ndarray) -> float:
    """IoU of two boolean masks; two empty masks agree perfectly (1.0)."""
    predicted = predicted.astype(bool, copy=False)
    truth = truth.astype(bool, copy=False)
    union = np.count_nonzero(predicted | truth)
    if union == 0:
        return 1.0
    return np.count_nonzero(predicted & truth) / union


def per_class_iou(predicted: np.ndarray, truth: np.ndarray, num_classes: int) -> list[float | None]:
    """IoU for each class index; None where the class is absent from both masks."""
    ious: list[float | None] = []
    for c in range(num_classes):
        p = predicted == c
        t = truth == c
        union = np.count_nonzero(p | t)
        ious.append(None if union == 0 else np.count_nonzero(p & t) / union)
    return ious
