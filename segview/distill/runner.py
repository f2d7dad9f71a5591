"""One distillation, start to finish: teacher -> frames -> training -> ONNX + card -> registry.

:func:`distill` runs on the calling thread (the CLI's); :class:`DistillJob` runs it on a
worker thread for the studio, with progress callbacks and cancellation. Nothing is
written to the output path unless the run completes: a cancelled run leaves only its
checkpoint, for ``--resume``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from segview.distill.availability import require_torch
from segview.distill.background import ThreadedRun
from segview.distill.config import DistillConfig
from segview.distill.events import DistillOutcome
from segview.errors import DistillError

if TYPE_CHECKING:  # these import torch or onnx; this module must import without them
    from segview.distill.data import FrameSet
    from segview.distill.selection import SelectionPool
    from segview.distill.teacher import Teacher
    from segview.inference.registry import ModelEntry, ModelRegistry

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
    # Before minutes of reading frames: a run that cannot start says so at once.
    config.check()
    # Imported here, not at the top: this module must import without torch.
    from segview.distill import export
    from segview.distill.card import export_student
    from segview.distill.trainer import Trainer
    from segview.inference.registry import ModelRegistry

    stage = on_stage or (lambda text: None)
    registry = registry or ModelRegistry()
    entry, teacher = _load_teacher(config, registry, stage)
    read = _read_frames(config, teacher, stage, cancelled)
    if read is None:
        return DistillOutcome(True, None, None, None, 0, 0.0, [], [])
    frames, selection = read
    stage(f"training on {len(frames.train)} frames ({frames.labelled_train} with masks)")
    result = Trainer(config, teacher, frames, selection=selection, on_progress=on_progress, on_stage=stage, cancelled=cancelled).run()
    if result.cancelled:
        return DistillOutcome(True, None, None, result.checkpoint, result.steps, result.seconds, result.loss_curve, result.val_curve)
    stage("exporting and measuring")
    exported = export_student(config, entry, teacher, frames, result)
    export.write_student(exported.data, exported.card, config.out)
    warning = quality_warning(exported.measured)
    if warning:
        stage(warning)
    stage("registering")
    registered = registry.add_file(config.out)
    return DistillOutcome(
        False, config.out, registered.name, result.checkpoint, result.steps, result.seconds, result.loss_curve, result.val_curve, exported.card.extra
    )


def _load_teacher(config: DistillConfig, registry: ModelRegistry, stage: Stage) -> tuple[ModelEntry, Teacher]:
    """The teacher's registry entry and its runner (with the hint tensor the loss asks for)."""
    from segview.distill.teacher import Teacher, resolve_teacher

    stage("loading the teacher")
    entry = resolve_teacher(config.teacher, registry)
    if entry.path == config.out.resolve():
        raise DistillError("the student would overwrite its teacher; choose another --out")
    return entry, Teacher(entry, hint_layer=config.loss.hint_layer, want_feature=config.loss.hint != "none")


def _read_frames(config: DistillConfig, teacher: Teacher, stage: Stage, cancelled: Callable[[], bool]) -> tuple[FrameSet, SelectionPool | None] | None:
    """The training frames and the unseen selection pool (or None); None when cancelled meanwhile."""
    from segview.distill.data import load_frames
    from segview.distill.pool import describe_sources
    from segview.distill.selection import load_selection

    stage("reading frames")
    # With the teacher: the pool is refused before training when it shows no people
    # (pool.require_people), and the composites' people are cut out with its masks.
    frames = load_frames(config.data, teacher=teacher, cancelled=cancelled)
    stage(describe_sources(frames.description))
    if cancelled():
        return None
    if config.select.given:
        stage("reading the selection pool")
    selection = load_selection(config.select, config.data, cancelled)
    return None if cancelled() else (frames, selection)


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


class DistillJob(ThreadedRun):
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
