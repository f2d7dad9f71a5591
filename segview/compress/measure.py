"""Measuring a result against its source: sizes, side-by-side latency, mask agreement, ground-truth IoU.

Latency is measured for both models in one run, alternating rounds (A then B,
then B then A), and compared as medians: on a shared machine a neighbour's
burst then hits both models alike instead of one.

A neighbour that runs all along (the studio's own models, when the wizard
compresses) slows both alike and makes every figure wrong, so whoever runs the
measurement can install a *quiet hook* (:func:`set_quiet_hook`): it is entered
around each timing, may pause what competes, and says what still ran beside it;
the figure carries that answer (``measured_beside``).
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from segview.compress import graph
from segview.compress.step import CancelToken
from segview.evaluation import evaluate
from segview.inference.card import ModelCard
from segview.inference.session import SegmentationSession, SessionOptions
from segview.metrics.iou import binary_iou

# What ran beside a measurement when nobody installed a quiet hook (segview compress): nothing else of this process.
ALONE = "nothing else in this process (command line)"
QuietHook = Callable[[], contextlib.AbstractContextManager[str]]
_quiet_hook: QuietHook | None = None


def set_quiet_hook(hook: QuietHook | None) -> None:
    """Install (or remove, with None) the context manager entered around each latency measurement."""
    global _quiet_hook
    _quiet_hook = hook


@contextlib.contextmanager
def quiet_spell() -> Iterator[str]:
    """While inside, what competes is paused if the hook can; yields what still runs beside the measurement."""
    if _quiet_hook is None:
        yield ALONE
        return
    with _quiet_hook() as beside:
        yield beside


@dataclass(frozen=True, slots=True)
class MeasureOptions:
    rounds: int = 15
    runs_per_round: int = 20
    warmup: int = 10
    # Intra-op threads to measure with; 0 means onnxruntime's default (every core).
    threads: tuple[int, ...] = (1, 0)
    agreement_frames: int = 60

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "rounds": self.rounds,
            "runs_per_round": self.runs_per_round,
            "warmup": self.warmup,
            "threads": list(self.threads),
            "agreement_frames": self.agreement_frames,
        }

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> MeasureOptions:
        base = cls()
        return cls(
            rounds=int(data.get("rounds", base.rounds)),
            runs_per_round=int(data.get("runs_per_round", base.runs_per_round)),
            warmup=int(data.get("warmup", base.warmup)),
            threads=tuple(int(t) for t in data.get("threads", base.threads)),
            agreement_frames=int(data.get("agreement_frames", base.agreement_frames)),
        )


@dataclass(frozen=True, slots=True)
class Latency:
    threads: int  # 0: onnxruntime's default
    source_ms: float
    result_ms: float
    rounds: int
    runs_per_round: int
    # What ran beside the measurement ("nothing (studio paused)", the studio's running models ...); "" in old reports.
    beside: str = ""

    @property
    def speedup(self) -> float:
        return self.source_ms / self.result_ms if self.result_ms > 0 else float("nan")

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "threads": self.threads or "default",
            "source_ms": round(self.source_ms, 4),
            "result_ms": round(self.result_ms, 4),
            "speedup": round(self.speedup, 4),
            "rounds": self.rounds,
            "runs_per_round": self.runs_per_round,
            "measured_beside": self.beside,
        }

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> Latency:
        threads = data.get("threads", 0)
        return cls(
            0 if threads == "default" else int(threads),
            float(data["source_ms"]),
            float(data["result_ms"]),
            int(data.get("rounds", 0)),
            int(data.get("runs_per_round", 0)),
            str(data.get("measured_beside", "")),
        )


@dataclass(frozen=True, slots=True)
class GroundTruth:
    images_dir: str
    masks_dir: str
    images: int
    source_iou: float
    iou: float

    @property
    def drop_points(self) -> float:
        return (self.source_iou - self.iou) * 100.0

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "images_dir": self.images_dir,
            "masks_dir": self.masks_dir,
            "images": self.images,
            "source_iou": round(self.source_iou, 6),
            "iou": round(self.iou, 6),
            "drop_points": round(self.drop_points, 4),
        }

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> GroundTruth:
        return cls(str(data["images_dir"]), str(data["masks_dir"]), int(data["images"]), float(data["source_iou"]), float(data["iou"]))


@dataclass(frozen=True, slots=True)
class Measurement:
    """What measuring a result against its source found: latency side by side, mask agreement, ground truth."""

    latency: list[Latency]
    agreement_iou: float | None  # None when no frames could be found to compare on
    agreement_frames: int
    agreement_on: str  # what the frames were ("held-out calibration frames" ...)
    ground_truth: GroundTruth | None = None


def measure_latency(
    source: Path, result: Path, card: ModelCard, tensor: np.ndarray, *, threads: int, options: MeasureOptions, cancel: CancelToken | None = None
) -> Latency:
    """Median milliseconds per raw ``run`` of each model, measured in alternating rounds in this one process."""
    session_options = SessionOptions(threads=threads or None)
    sessions = [SegmentationSession(source, card, session_options), SegmentationSession(result, card, session_options)]
    with quiet_spell() as beside:
        per_round = _timed_rounds([s.run for s in sessions], tensor, options, cancel)
    return Latency(threads, statistics.median(per_round[0]), statistics.median(per_round[1]), options.rounds, options.runs_per_round, beside)


def _timed_rounds(runs: list[Callable[[np.ndarray], object]], tensor: np.ndarray, options: MeasureOptions, cancel: CancelToken | None) -> list[list[float]]:
    """Milliseconds per run of each callable, one figure per round, in alternating order after a warm-up."""
    for run in runs:
        for _ in range(options.warmup):
            run(tensor)
    per_round: list[list[float]] = [[] for _ in runs]
    for r in range(options.rounds):
        if cancel is not None:
            cancel.check()
        order = range(len(runs)) if r % 2 == 0 else reversed(range(len(runs)))
        for k in order:
            run = runs[k]
            start = time.perf_counter()
            for _ in range(options.runs_per_round):
                run(tensor)
            per_round[k].append((time.perf_counter() - start) * 1e3 / options.runs_per_round)
    return per_round


def agreement_iou(source: SegmentationSession, result: SegmentationSession, frames: list[np.ndarray], *, cancel: CancelToken | None = None) -> float:
    """Mean IoU of the result's person masks against the source's, at frame resolution."""
    card = source.card
    ious = []
    for frame in frames:
        if cancel is not None:
            cancel.check()
        a = source.segment(frame).mask
        b = result.segment(frame).mask
        if not card.is_binary:
            a, b = a == card.foreground_class, b == card.foreground_class
        ious.append(binary_iou(b, a))
    return float(np.mean(ious)) if ious else float("nan")


def ground_truth(source: SegmentationSession, result: SegmentationSession, images: Path, masks: Path) -> GroundTruth:
    """segview eval on both models, on the same labelled images."""
    src = evaluate(source, images, masks)
    res = evaluate(result, images, masks)
    return GroundTruth(str(images), str(masks), res.images, src.mean_iou, res.mean_iou)


def sizes(data: bytes, name: str) -> tuple[int, int]:
    return len(data), graph.zip_size(data, name)
