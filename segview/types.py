"""Frozen value objects passed between sources, sessions, the pipeline and consumers."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured image.

    ``image`` is BGR uint8 (OpenCV's order) of shape (H, W, 3). ``captured_at``
    is ``time.perf_counter()`` when the frame was handed over by the source;
    ``capture_ms`` is how long the source took to produce it (decode, read).
    """

    index: int
    image: np.ndarray
    captured_at: float
    capture_ms: float = 0.0
    source_name: str = ""

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.image.shape[1], self.image.shape[0]


@dataclass(frozen=True, slots=True)
class StageTimings:
    """Milliseconds spent in each stage of one frame for one model."""

    capture_ms: float
    queue_ms: float
    preprocess_ms: float
    inference_ms: float
    postprocess_ms: float
    end_to_end_ms: float

    STAGES = ("capture_ms", "queue_ms", "preprocess_ms", "inference_ms", "postprocess_ms")


@dataclass(frozen=True, slots=True)
class SegmentationResult:
    """The mask a model produced for one frame.

    ``mask`` is uint8 (H, W) at frame resolution: 0/1 for binary models, the
    class index for multi-class models. ``probability`` is the person (or
    foreground) probability at model resolution, kept for smooth overlays.
    """

    model: str
    frame: Frame
    mask: np.ndarray
    timings: StageTimings
    probability: np.ndarray | None = field(default=None, repr=False)
