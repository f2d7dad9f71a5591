"""A trained student's ONNX file and card: what it is, what taught it on which frames, how it
was chosen, and how it measures side by side with its teacher."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from torch import nn

from segview.distill import export
from segview.distill.config import GRAPH_ARCHS, DistillConfig
from segview.distill.data import FrameSet
from segview.distill.teacher import Teacher
from segview.distill.trainer import TrainResult
from segview.inference.card import ModelCard
from segview.inference.registry import ModelEntry


@dataclass(frozen=True, slots=True)
class Exported:
    data: bytes  # the ONNX file, without its card (export.write_student embeds it)
    card: ModelCard

    @property
    def measured(self) -> dict[str, Any]:
        return self.card.extra["distillation"]["measured"]


def export_student(config: DistillConfig, entry: ModelEntry, teacher: Teacher, frames: FrameSet, result: TrainResult) -> Exported:
    """The student as ONNX, measured against the teacher, with its card (nothing written yet)."""
    data, names = student_onnx(config, entry, result.student)
    measured = measure(config, entry, frames, data, names)
    card = export.student_card(
        config.model_name,
        config.resolution,
        **names,
        title=f"{config.arch} student (width {config.width:g}, {config.resolution}x{config.resolution}) of {entry.name}",
        source=f"distilled from {entry.name} by segview distill",
        extra={"distillation": distillation_section(config, entry, teacher, frames, result, measured)},
    )
    return Exported(data, replace(card, license=entry.card.license))


def student_onnx(config: DistillConfig, entry: ModelEntry, student: nn.Module) -> tuple[bytes, dict[str, str]]:
    """The ONNX bytes and the card's input and output names (none: export's defaults)."""
    if config.arch in GRAPH_ARCHS:
        # The teacher's graph with new weights: its own input and output names.
        return student.to_onnx(config.resolution), {"input_name": entry.card.input_name, "output_name": entry.card.output_name}  # type: ignore[operator]
    return export.onnx_bytes(student, config.resolution), {}


def measure(config: DistillConfig, entry: ModelEntry, frames: FrameSet, data: bytes, names: dict[str, str]) -> dict[str, Any]:
    """Speed against the teacher (one thread, alternating) and both IoUs on the validation frames."""
    provisional = export.student_card(config.model_name, config.resolution, title="", source="", extra={}, **names)
    speed = export.measure_speed(data, provisional, entry)
    truths = None if all(s.mask is not None for s in frames.val) else export.teacher_masks(entry, frames.val)
    student_iou = export.measure_iou(data, provisional, frames.val, truths)
    teacher_iou = export.measure_iou(str(entry.path), entry.card, frames.val, truths)
    return {
        "student_ms": round(speed.student_ms, 4),
        "teacher_ms": round(speed.teacher_ms, 4),
        "speedup": round(speed.speedup, 3),
        "threads": speed.threads,
        "rounds": speed.rounds,
        "machine": export.describe_machine(),
        "val_iou": None if student_iou is None else round(student_iou, 4),
        "teacher_val_iou": None if teacher_iou is None else round(teacher_iou, 4),
        "val_frames": len(frames.val),
        "val_against": "ground-truth masks" if truths is None else "the teacher's masks",
    }


def distillation_section(
    config: DistillConfig, entry: ModelEntry, teacher: Teacher, frames: FrameSet, result: TrainResult, measured: dict[str, Any]
) -> dict[str, Any]:
    """The card's "distillation" section: enough to tell what the student is and to run it again."""
    student = result.student
    return {
        "architecture": config.arch,
        "width_multiplier": config.width,
        "input_resolution": config.resolution,
        "resolution_multiplier": round(config.resolution / max(entry.card.width, entry.card.height), 4),
        "parameters": export.parameters(student),
        **(
            {"slim": {"removed_gates": student.removed_gates, "relu_for_hardswish": config.slim_relu, "skipped_last_stage": config.slim_skip_last_stage}}
            if config.arch == "slim"
            else {}
        ),
        **({"graph_rewrites": {"pointwise_before_upsampling": student.pointwise_before_upsampling}} if config.arch in GRAPH_ARCHS else {}),
        "teacher": {"name": entry.name, "file": entry.path.name, "sha256": teacher.sha256, "hint_layer": teacher.feature_name},
        # Every source with its count and licence, the thinning and the composite settings (pool.py, composites.py).
        "data": frames.description,
        "loss": {
            "temperature": config.loss.temperature,
            "soft_weight": config.loss.soft_weight,
            "hard_weight": config.loss.hard_weight,
            "hint": config.loss.hint if teacher.feature_name else "none",
            "hint_weight": config.loss.hint_weight,
        },
        "training": training_section(config, result),
        "measured": measured,
        # Both validation figures of the weights exported, by person size, and which step they are.
        "validation": result.validation,
        "val_curve": [[s, round(v, 4)] for s, v in result.val_curve],
        "agreement_curve": [[s, round(v, 4)] for s, v in result.agreement_curve],
        "recipe": list(config.command) if config.command else None,
        "config": config.to_json_dict(),
    }


def training_section(config: DistillConfig, result: TrainResult) -> dict[str, Any]:
    return {
        "steps": result.steps,
        "epochs": round(result.epochs, 2),
        "seconds": round(result.seconds, 1),
        # --init-from: the runs before this one, and the time of all of them.
        "started_from": result.lineage,
        "seconds_in_all": round(result.seconds + sum(a["seconds"] for a in result.lineage), 1),
        "device": result.device,
        "batch_size": config.train.batch_size,
        "learning_rate": config.train.learning_rate,
        "augment": config.train.augment,
        "mosaic": config.train.mosaic,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
