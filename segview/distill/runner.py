"""One distillation, start to finish: teacher -> frames -> training -> ONNX + card -> registry.

:func:`distill` runs on the calling thread (the CLI's); :class:`DistillJob` runs it on a
worker thread for the studio, with progress callbacks and cancellation. Nothing is
written to the output path unless the run completes: a cancelled run leaves only its
checkpoint, for ``--resume``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from segview.distill.availability import DistillError, require_torch
from segview.distill.config import GRAPH_ARCHS, DistillConfig
from segview.distill.events import DistillOutcome

Stage = Callable[[str], None]


def distill(
    config: DistillConfig,
    *,
    on_progress: Callable[[Any], None] | None = None,
    on_stage: Stage | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    registry: Any = None,
) -> DistillOutcome:
    """Blocking. Raises DistillError (a SegviewError) with a readable reason."""
    require_torch()
    # Imported here, not at the top: this module must import without torch.
    from segview.distill import export
    from segview.distill.architectures import StudentSpec
    from segview.distill.data import load_frames
    from segview.distill.pool import describe_sources
    from segview.distill.teacher import Teacher, resolve_teacher
    from segview.distill.trainer import Trainer
    from segview.inference.registry import ModelRegistry

    stage = on_stage or (lambda text: None)
    try:
        StudentSpec(config.arch, config.width, config.resolution)  # type: ignore[arg-type]
    except ValueError as exc:
        raise DistillError(str(exc)) from None
    if config.arch != "slim" and (config.slim_gates or config.slim_relu or config.slim_skip_last_stage):
        raise DistillError("--slim-gates, --slim-relu and --slim-skip-last-stage apply to --arch slim only")
    if config.out.suffix.lower() != ".onnx":
        raise DistillError(f"the output must be an .onnx file, not {config.out.name}")
    if not config.out.parent.is_dir():
        raise DistillError(f"cannot write {config.out}: folder {config.out.parent} does not exist")
    # Before minutes of reading frames: a run that cannot start says so at once.
    if config.resume and config.init_from is not None:
        raise DistillError("--resume goes on with a run and --init-from starts a new one from another's weights: give one of them")
    if config.resume and not config.checkpoint_path.exists():
        raise DistillError(f"nothing to resume: no checkpoint at {config.checkpoint_path}")
    if config.init_from is not None and not config.init_from.exists():
        raise DistillError(f"nothing to start from: no checkpoint at {config.init_from}")
    from segview.distill.selection import check_selection_sources, load_selection

    check_selection_sources(config.select, config.data)  # an unseen pool the run trains on is not unseen
    registry = registry or ModelRegistry()
    stage("loading the teacher")
    entry = resolve_teacher(config.teacher, registry)
    if entry.path == config.out.resolve():
        raise DistillError("the student would overwrite its teacher; choose another --out")
    teacher = Teacher(entry, hint_layer=config.loss.hint_layer, want_feature=config.loss.hint != "none")
    stage("reading frames")
    # With the teacher: the pool is refused before training when it shows no people
    # (pool.require_people), and the composites' people are cut out with its masks.
    frames = load_frames(config.data, teacher=teacher, cancelled=cancelled)
    stage(describe_sources(frames.description))
    if cancelled():
        return DistillOutcome(True, None, None, None, 0, 0.0, [], [])
    if config.select.given:
        stage("reading the selection pool")
    selection = load_selection(config.select, config.data, cancelled)
    if cancelled():
        return DistillOutcome(True, None, None, None, 0, 0.0, [], [])
    stage(f"training on {len(frames.train)} frames ({frames.labelled_train} with masks)")
    result = Trainer(config, teacher, frames, selection=selection, on_progress=on_progress, on_stage=stage, cancelled=cancelled).run()
    if result.cancelled:
        return DistillOutcome(True, None, None, result.checkpoint, result.steps, result.seconds, result.loss_curve, result.val_curve)

    stage("exporting and measuring")
    if config.arch in GRAPH_ARCHS:
        # The teacher's graph with new weights: its own input and output names.
        data = result.student.to_onnx(config.resolution)
        names = {"input_name": entry.card.input_name, "output_name": entry.card.output_name}
    else:
        data = export.onnx_bytes(result.student, config.resolution)
        names = {}
    provisional = export.student_card(config.model_name, config.resolution, title="", source="", extra={}, **names)
    speed = export.measure_speed(data, provisional, entry)
    truths = None if all(s.mask is not None for s in frames.val) else export.teacher_masks(entry, frames.val)
    student_iou = export.measure_iou(data, provisional, frames.val, truths)
    teacher_iou = export.measure_iou(str(entry.path), entry.card, frames.val, truths)
    against = "ground-truth masks" if truths is None else "the teacher's masks"
    extra = {
        "distillation": {
            "architecture": config.arch,
            "width_multiplier": config.width,
            "input_resolution": config.resolution,
            "resolution_multiplier": round(config.resolution / max(entry.card.width, entry.card.height), 4),
            "parameters": export.parameters(result.student),
            **({"slim": {"removed_gates": result.student.removed_gates, "relu_for_hardswish": config.slim_relu, "skipped_last_stage": config.slim_skip_last_stage}} if config.arch == "slim" else {}),
            **({"graph_rewrites": {"pointwise_before_upsampling": result.student.pointwise_before_upsampling}} if config.arch in GRAPH_ARCHS else {}),
            "teacher": {"name": entry.name, "file": entry.path.name, "sha256": teacher.sha256, "hint_layer": teacher.feature_name},
            "data": frames.description,
            "loss": {
                "temperature": config.loss.temperature,
                "soft_weight": config.loss.soft_weight,
                "hard_weight": config.loss.hard_weight,
                "hint": config.loss.hint if teacher.feature_name else "none",
                "hint_weight": config.loss.hint_weight,
            },
            "training": {
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
            },
            "measured": {
                "student_ms": round(speed.student_ms, 4),
                "teacher_ms": round(speed.teacher_ms, 4),
                "speedup": round(speed.speedup, 3),
                "threads": speed.threads,
                "rounds": speed.rounds,
                "machine": export.describe_machine(),
                "val_iou": None if student_iou is None else round(student_iou, 4),
                "teacher_val_iou": None if teacher_iou is None else round(teacher_iou, 4),
                "val_frames": len(frames.val),
                "val_against": against,
            },
            # Both validation figures of the weights exported, by person size, and which step they are.
            "validation": result.validation,
            "val_curve": [[s, round(v, 4)] for s, v in result.val_curve],
            "agreement_curve": [[s, round(v, 4)] for s, v in result.agreement_curve],
            "recipe": list(config.command) if config.command else None,
            "config": config.to_json_dict(),
        }
    }
    card = export.student_card(
        config.model_name,
        config.resolution,
        **names,
        title=f"{config.arch} student (width {config.width:g}, {config.resolution}x{config.resolution}) of {entry.name}",
        source=f"distilled from {entry.name} by segview distill",
        extra=extra,
    )
    card = replace(card, license=entry.card.license)
    export.write_student(data, card, config.out)
    warning = quality_warning(extra["distillation"]["measured"])
    if warning:
        stage(warning)
    stage("registering")
    registered = registry.add_file(config.out)
    return DistillOutcome(False, config.out, registered.name, result.checkpoint, result.steps, result.seconds, result.loss_curve, result.val_curve, extra)


# A student more than this many IoU points (hundredths) under its teacher on the same
# validation frames is not ready to compare with it; a one-minute run usually is.
FAR_BELOW_POINTS = 10.0


def quality_warning(measured: dict[str, Any]) -> str | None:
    """One line when the student's validation IoU is over FAR_BELOW_POINTS points below the teacher's, else None."""
    student, teacher = measured.get("val_iou"), measured.get("teacher_val_iou")
    if student is None or teacher is None:
        return None
    gap = 100.0 * (teacher - student)
    if gap <= FAR_BELOW_POINTS:
        return None
    return (
        f"warning: the student's validation IoU {student:.3f} is {gap:.1f} points below the teacher's {teacher:.3f}; "
        "it needs more training minutes (or a run that goes on with --init-from its checkpoint) before it compares fairly"
    )


class DistillJob:
    """Runs :func:`distill` on a worker thread of this process; callbacks run on that thread.

    For scripts and tests. The studio runs distillation in a child process instead
    (:mod:`segview.distill.process`): training holds the GIL and the CPU for minutes,
    PyTorch imports modules lazily from whichever thread first needs them (which
    PySide's import hook does not survive on a worker thread), and running out of
    memory must not take the studio down with it."""

    def __init__(
        self,
        config: DistillConfig,
        *,
        on_progress: Callable[[Any], None] | None = None,
        on_stage: Stage | None = None,
        on_finished: Callable[[DistillOutcome], None] | None = None,
        on_failed: Callable[[str], None] | None = None,
        registry: Any = None,
    ) -> None:
        self.config = config
        self._cancel = threading.Event()
        self._callbacks = (on_progress, on_stage, on_finished or (lambda o: None), on_failed or (lambda m: None))
        self._registry = registry
        self._thread = threading.Thread(target=self._run, name="distill", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        """Ask the run to stop at its next step; a checkpoint is left to resume from."""
        self._cancel.set()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        on_progress, on_stage, on_finished, on_failed = self._callbacks
        try:
            outcome = distill(self.config, on_progress=on_progress, on_stage=on_stage, cancelled=self._cancel.is_set, registry=self._registry)
        except DistillError as exc:
            on_failed(str(exc))
        except Exception as exc:  # a bug, but the studio must keep running: report it, keep the traceback
            import traceback

            traceback.print_exc()
            on_failed(f"distillation failed unexpectedly: {type(exc).__name__}: {exc}")
        else:
            on_finished(outcome)
