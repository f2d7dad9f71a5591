"""The teacher's answers, computed once per frame and kept in memory.

Training: the teacher's probability map of each whole training frame, at the frame's stored
size (float16: a probability needs no more), carried through the same crop, flip and mosaic
as the image (:meth:`segview.distill.data.Augment.with_target`). An epoch then costs the
student's steps only, where running the teacher on every augmented frame cost about as much
again. Selection: the teacher's masks of the unseen pool, thresholded once.

No torch here: onnxruntime and OpenCV only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from segview.distill.data import Sample
from segview.distill.pool import teacher_probability
from segview.distill.teacher import Teacher

Stage = Callable[[str], None]
# A stage line at most this often while the teacher works through the frames.
REPORT_EVERY_S = 5.0


def _each_frame(
    frames: Sequence[Sample], work: Callable[[Sample], np.ndarray], what: str, on_stage: Stage, cancelled: Callable[[], bool]
) -> list[np.ndarray] | None:
    """``work`` on every frame, reporting as it goes; None when cancelled part way."""
    results: list[np.ndarray] = []
    last = time.perf_counter()
    on_stage(f"{what}: 0/{len(frames)} frames")
    for sample in frames:
        if cancelled():
            return None
        results.append(work(sample))
        if time.perf_counter() - last >= REPORT_EVERY_S:
            last = time.perf_counter()
            on_stage(f"{what}: {len(results)}/{len(frames)} frames")
    on_stage(f"{what}: {len(results)}/{len(frames)} frames, done")
    return results


def soft_targets(
    teacher: Teacher, frames: Sequence[Sample], *, on_stage: Stage = lambda s: None, cancelled: Callable[[], bool] = lambda: False
) -> list[np.ndarray] | None:
    """One float16 probability map per frame, at the frame's size; None when cancelled."""
    return _each_frame(frames, lambda s: teacher_probability(teacher, s.image).astype(np.float16), "teacher targets", on_stage, cancelled)


def teacher_masks(
    teacher: Teacher, frames: Sequence[Sample], *, on_stage: Stage = lambda s: None, cancelled: Callable[[], bool] = lambda: False
) -> list[np.ndarray] | None:
    """The teacher's masks (probability > 0.5 at the frame's size), for agreement; None when cancelled."""
    return _each_frame(frames, lambda s: teacher_probability(teacher, s.image) > 0.5, "teacher masks of the selection pool", on_stage, cancelled)
