"""Validation figures and the checkpoint they choose.

Two figures every run: IoU against labels on the labelled split, and agreement with the
teacher (IoU of the student's mask and the teacher's, both at 0.5 at the frame's size) on an
unseen selection pool, frames from sources the run never trains on. A small labelled split
is easy to overfit by picking checkpoints on it; hundreds of teacher-labelled frames from
elsewhere are not, so with a pool the weights exported are those that agreed best with it.
Both figures come with IoU by person size: the truth's (or the teacher's) share of the frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from segview.distill.availability import DistillError
from segview.distill.config import DataConfig, SelectConfig
from segview.distill.data import Sample
from segview.metrics.iou import binary_iou

# Person size bins by foreground share of the frame: small < 10%, medium 10-35%, large > 35%.
SIZE_BINS: tuple[str, ...] = ("small", "medium", "large")
SMALL_BELOW, LARGE_ABOVE = 0.10, 0.35
# Under this share a frame has no person. Such frames are left out of the figure's mean (an
# empty truth makes IoU all or nothing) and scored in their own "none" bin.
NO_PERSON_SHARE = 0.005
NONE_RULE = (
    f"frames whose truth covers under {100 * NO_PERSON_SHARE:g}% of the frame are left out of the mean; "
    f"their 'none' bin scores 1 where the student also finds under {100 * NO_PERSON_SHARE:g}%, else 0"
)
BIN_RULE = "foreground share of the frame: small < 10%, medium 10-35%, large > 35%; " + NONE_RULE
BATCH = 32


def size_bin(share: float) -> str:
    if share < NO_PERSON_SHARE:
        return "none"
    if share < SMALL_BELOW:
        return "small"
    return "medium" if share <= LARGE_ABOVE else "large"


@dataclass(frozen=True, slots=True)
class Figure:
    """One validation figure: the mean over frames with a person, and per size bin."""

    value: float | None
    frames: int
    by_size: dict[str, dict[str, Any]]

    def to_json_dict(self, key: str) -> dict[str, Any]:
        return {key: None if self.value is None else round(self.value, 4), "frames": self.frames, "by_size": self.by_size}


def figure(scores: list[tuple[str, float]]) -> Figure:
    """Per-frame (bin, IoU) pairs -> the mean over frames with a person and each bin's mean and count."""
    by_size: dict[str, dict[str, Any]] = {}
    for name in (*SIZE_BINS, "none"):
        values = [v for b, v in scores if b == name]
        by_size[name] = {"iou": round(float(np.mean(values)), 4) if values else None, "count": len(values)}
    people = [v for b, v in scores if b != "none"]
    return Figure(float(np.mean(people)) if people else None, len(scores), by_size)


def score_frame(predicted: np.ndarray, truth: np.ndarray) -> tuple[str, float]:
    """A frame's size bin (by the truth) and its IoU; a frame without a person scores by the none rule."""
    name = size_bin(float(np.count_nonzero(truth)) / truth.size)
    if name == "none":
        return name, float(np.count_nonzero(predicted) / predicted.size < NO_PERSON_SHARE)
    return name, binary_iou(predicted, truth)


class MaskScorer:
    """The student's masks (probability resized to the frame, bilinear, > 0.5: segview eval's
    protocol) against fixed truths. Inputs are kept as uint8 at the student's size: a pool of
    hundreds of frames stays a few tens of MB."""

    def __init__(self, images: list[np.ndarray], truths: list[np.ndarray], resolution: int) -> None:
        self.sizes = [(im.shape[1], im.shape[0]) for im in images]
        self.truths = [t.astype(bool) for t in truths]
        self.inputs = [cv2.cvtColor(cv2.resize(im, (resolution, resolution), interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB) for im in images]

    def __len__(self) -> int:
        return len(self.inputs)

    def __call__(self, student: Any, device: Any) -> Figure | None:
        if not self.inputs:
            return None
        import torch

        was_training = student.training
        student.eval()
        scores = []
        with torch.no_grad():
            for start in range(0, len(self.inputs), BATCH):
                batch = np.stack(self.inputs[start : start + BATCH]).transpose(0, 3, 1, 2).astype(np.float32) / 255.0
                probs = torch.sigmoid(student(torch.from_numpy(batch).to(device))[0])[:, 0].cpu().numpy()
                for prob, size, truth in zip(probs, self.sizes[start : start + BATCH], self.truths[start : start + BATCH], strict=True):
                    scores.append(score_frame(cv2.resize(prob, size, interpolation=cv2.INTER_LINEAR) > 0.5, truth))
        student.train(was_training)
        return figure(scores)


class BestKeeper:
    """The student weights of the best unseen-pool agreement so far (ties keep the earlier step),
    with both figures of those weights, so the card needs no second scoring."""

    def __init__(self, saved: dict[str, Any] | None = None, pool: list[dict[str, Any]] | None = None) -> None:
        # Agreement on another pool is another figure: a best saved for other sources is dropped.
        self.pool = pool
        self.dropped = saved is not None and saved.get("pool") != pool
        self.best: dict[str, Any] | None = None if self.dropped else saved

    def offer(self, step: int, pooled: Figure, labelled: Figure | None, student: Any) -> bool:
        """Keep ``student``'s weights if their agreement beats the best so far; True when kept."""
        if pooled.value is None or (self.best is not None and pooled.value <= self.best["agreement"]):
            return False
        self.best = {
            "state_dict": {k: v.detach().cpu().clone() for k, v in student.state_dict().items()},
            "step": int(step),
            "agreement": float(pooled.value),
            "labelled_iou": None if labelled is None or labelled.value is None else float(labelled.value),
            "figures": {"labelled": None if labelled is None else labelled.to_json_dict("iou"), "unseen_pool": pooled.to_json_dict("agreement")},
            "pool": self.pool,
        }
        return True


@dataclass(frozen=True, slots=True)
class SelectionPool:
    frames: tuple[Sample, ...]
    sources: list[dict[str, Any]]  # name and frame count of each source, for the card


def load_selection(select: SelectConfig, data: DataConfig, cancelled: Callable[[], bool] = lambda: False) -> SelectionPool | None:
    """The unseen pool's frames, read like training frames (same size, video stride and thinning),
    or None when none is given."""
    if not select.given:
        return None
    from segview.distill.pool import StreamLimits, read_image_folders, read_video

    frames, records = read_image_folders(select.images, None, data.max_side, data.licences)
    limits = StreamLimits(data.video_every, data.video_max_frames, data.max_side, data.thin)
    for spec in select.videos:
        read, record = read_video(spec, limits, data.licences, cancelled)
        frames += read
        records.append(record)
    if not frames and not cancelled():
        raise DistillError("no frames in the selection pool: give --select-images folders with images, or --select-video files with frames")
    return SelectionPool(tuple(frames), [r.as_dict() for r in records])


def _paths(value: Any) -> list[Path]:
    """The file-system paths in a config value (a path, a text naming an existing file, or a tuple of them)."""
    if isinstance(value, (tuple, list)):
        return [p for v in value for p in _paths(v)]
    if isinstance(value, Path) or (isinstance(value, str) and Path(value).exists()):
        return [Path(value).resolve()]
    return []


def training_sources_overlap(select: SelectConfig, data: DataConfig) -> str | None:
    """The first selection source that is also a training source (same resolved path), or None.
    Every data field counts as training except the validation split's and the masks."""
    trained: set[Path] = set()
    for f in fields(data):
        if not f.name.startswith("val_") and f.name != "masks":
            trained.update(_paths(getattr(data, f.name)))
    trained_specs = {v for v in data.videos if not Path(v).exists()}  # live sources: camera:0 ...
    for source in (*select.images, *select.videos):
        if any(p in trained for p in _paths(source)) or str(source) in trained_specs:
            return str(source)
    return None


def check_selection_sources(select: SelectConfig, data: DataConfig) -> None:
    overlap = training_sources_overlap(select, data)
    if overlap is not None:
        raise DistillError(f"the selection source {overlap} is also a training source: the unseen pool must come from sources the run never trains on")
