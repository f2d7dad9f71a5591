"""Recovery: a distillation fine-tune after pruning or weight sharing, with the chain's source model as teacher.

``prune-channels`` then ``recover`` is the thesis's prune-then-retrain: the
pruned graph, rebuilt in PyTorch with its pruned shapes, learns the unpruned
model's soft targets (temperature 2) on frames. After ``cluster`` only the
shared values are trained and every weight keeps its cluster (trained
quantization), so the result has as few distinct values as before.

Frames: the job's calibration frames (never its held-out ones, which measure)
plus an optional ``images`` folder. The IoU against the source before and after
the fine-tune is measured on the held-out frames and kept in the report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx

from segview.compress import graph
from segview.compress.calibration import read_frames
from segview.compress.search import DriftMeter
from segview.compress.step import CompressionError, Step, StepConfig, StepContext, StepOutput, option, register_step
from segview.distill import availability
from segview.errors import DataError
from segview.inference.preprocess import Preprocessor

TORCH_LINE = "recover needs PyTorch: pip install 'segview[distill]'"
# IoU before and after is measured on at most this many frames: enough to see the change, quick on two cores.
MEASURE_FRAMES = 32


@dataclass(frozen=True, slots=True)
class RecoverConfig(StepConfig):
    minutes: float = option(30.0, "training time in minutes (steps replaces it when given)")
    steps: int | None = option(None, "an exact number of optimiser steps instead of a time budget")
    lr: float = option(1e-4, "Adam's learning rate (a short warm-up, then a cosine decay)")
    batch: int = option(8, "frames per optimiser step")
    resolution: int | None = option(None, "training input size in pixels, square; none: the model's own input size")
    images: str | None = option(None, "an image folder to train on as well as the calibration frames")
    max_images: int = option(500, "at most this many images from that folder")
    temperature: float = option(2.0, "softening of the teacher's targets (Hinton et al.)")

    def validate(self) -> None:
        if not availability.torch_available():
            raise CompressionError(TORCH_LINE)
        if not (math.isfinite(self.minutes) and self.minutes > 0) and self.steps is None:
            raise CompressionError("recover: minutes must be a positive number")
        if self.steps is not None and self.steps < 1:
            raise CompressionError("recover: steps must be at least 1")
        if not (math.isfinite(self.lr) and self.lr > 0) or self.batch < 1 or self.max_images < 1:
            raise CompressionError("recover: lr must be positive, batch and max_images at least 1")
        if self.resolution is not None and not 16 <= self.resolution <= 4096:
            raise CompressionError("recover: resolution must be between 16 and 4096 pixels")
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise CompressionError("recover: temperature must be positive")


@register_step
class RecoverStep(Step):
    name = "recover"
    title = "Recovery by distillation"
    description = (
        "Fine-tunes the pruned or clustered model on frames against the source model's soft targets (needs PyTorch); "
        "after cluster only the shared values are trained."
    )
    config_type = RecoverConfig
    accepts = frozenset({"float32", "shared"})
    follows = frozenset({"prune-channels", "cluster"})

    def suffix(self, config: RecoverConfig) -> str:
        return "recovered"

    def check(self, model: onnx.ModelProto, config: RecoverConfig) -> None:
        if not availability.torch_available():
            raise CompressionError(TORCH_LINE)
        from segview.distill.recover import unsupported_reason  # imports torch: only once it is known to exist

        reason = unsupported_reason(model)
        if reason:
            raise CompressionError(f"recover cannot rebuild this model in PyTorch: {reason}")

    def apply(self, model: onnx.ModelProto, config: RecoverConfig, ctx: StepContext) -> StepOutput:
        from segview.distill.recover import RecoverSettings, fine_tune

        source = getattr(ctx, "source", None)
        if source is None:
            raise CompressionError("recover needs the chain's source model as its teacher; run it through segview compress")
        if ctx.card.layout != "NCHW":
            raise CompressionError(f"recover rebuilds NCHW models; {ctx.card.name} takes {ctx.card.layout}")
        ctx.progress(0.0, "reading frames")
        frames = _training_frames(config, ctx)
        pre = Preprocessor(ctx.card)
        inputs = np.concatenate([pre(f) for f in frames])
        ctx.progress(0.02, f"teacher soft targets on {len(frames)} frames")
        teacher = graph.session(source, threads=None)
        targets = np.concatenate(graph.run_outputs(teacher, list(inputs[:, None]), ctx.card.output_name)).astype(np.float32)
        measure_frames, measured_on = _measure_frames(ctx, frames)
        drift = DriftMeter(source, [pre(f) for f in measure_frames], ctx.card)
        before = 1.0 - drift(model)
        settings = RecoverSettings(config.steps, config.minutes, config.lr, config.batch, config.resolution, config.temperature)
        ctx.log(f"training on {len(frames)} frames for {f'{config.steps} steps' if config.steps else f'{config.minutes:g} minutes'}")
        result = fine_tune(
            model,
            inputs,
            targets,
            settings,
            check_cancel=ctx.cancel.check,
            progress=lambda f, m: ctx.progress(0.05 + 0.9 * f, m),
        )
        after = 1.0 - drift(result.model)
        ctx.progress(1.0, f"recovered: IoU vs source {before:.3f} -> {after:.3f}")
        return StepOutput(result.model, _notes(config, result, len(frames), before, after, f"{len(measure_frames)} {measured_on}"))


def _training_frames(config: RecoverConfig, ctx: StepContext) -> list[np.ndarray]:
    frames = list(ctx.calibration.calibration_frames) if ctx.calibration is not None else []
    if config.images:
        try:
            frames += read_frames(config.images, config.max_images, cancel=ctx.cancel)
        except DataError as exc:
            raise CompressionError(f"recover: {exc}") from None
    if not frames:
        raise CompressionError("recover needs frames to train on: give calibration frames (--calib) or recover:images=DIR")
    return frames


def _measure_frames(ctx: StepContext, training: list[np.ndarray]) -> tuple[list[np.ndarray], str]:
    held_out = list(ctx.calibration.held_out_frames) if ctx.calibration is not None else []
    if held_out:
        return held_out[:MEASURE_FRAMES], "held-out calibration frames"
    return training[:MEASURE_FRAMES], "training frames (no held-out frames)"


def _notes(config: RecoverConfig, result: Any, frames: int, before: float, after: float, measured_on: str) -> dict[str, Any]:
    return {
        "teacher": "the chain's source model",
        "minutes": None if config.steps else config.minutes,
        "steps": result.steps,
        "seconds": round(result.seconds, 1),
        "frames": frames,
        "temperature": config.temperature,
        "loss_start": round(result.loss_start, 6),
        "loss_end": round(result.loss_end, 6),
        "iou_vs_source_before": round(before, 6),
        "iou_vs_source_after": round(after, 6),
        "iou_measured_on": measured_on,
        "shared_tensors_trained_by_their_values": result.shared_tensors,
        "tensors_trained": result.trained_tensors,
    }
