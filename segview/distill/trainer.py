"""The training loop: a student learns from the teacher's soft targets (and masks, when there are any).

Runs on whichever thread calls :meth:`Trainer.run` (a worker thread in the studio);
it reports through a callback and stops at the next step when ``cancelled()`` is true,
leaving a checkpoint to resume from (checkpoints.py). Batches are made ahead on their
own thread (batches.py); the network is built by students.py.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from segview.distill import checkpoints
from segview.distill.architectures import StudentSpec
from segview.distill.batches import Batch, BatchMaker
from segview.distill.checkpoints import Curve, TrainState
from segview.distill.config import DistillConfig, TrainConfig
from segview.distill.data import FrameSet, Sample
from segview.distill.events import Progress
from segview.distill.losses import HintRegressor, attention_transfer_loss, hard_target_loss, soft_target_loss
from segview.distill.schedule import learning_rate
from segview.distill.selection import BIN_RULE, BestKeeper, Figure, MaskScorer, SelectionPool, size_bin
from segview.distill.students import make_student, pick_device
from segview.distill.targets import soft_targets, teacher_masks
from segview.distill.teacher import Teacher
from segview.errors import DistillError

CHOSEN_BY_POOL, CHOSEN_LAST = "unseen-pool agreement", "last step"


@dataclass(frozen=True, slots=True)
class TrainResult:
    student: nn.Module
    steps: int
    epochs: float
    seconds: float
    device: str
    cancelled: bool
    loss_curve: Curve = field(default_factory=list)
    val_curve: Curve = field(default_factory=list)
    checkpoint: Path | None = None
    # The runs whose weights this one started from (--init-from), nearest first: a card's
    # training time must count them too.
    lineage: list[dict] = field(default_factory=list)
    agreement_curve: Curve = field(default_factory=list)
    # Both validation figures of the exported weights, and which step those are (selection.py).
    validation: dict | None = None


ProgressCallback = Callable[[Progress], None]


class Budget:
    """How much of the run's length (epochs, minutes or steps: whichever ends first) is spent."""

    def __init__(self, train: TrainConfig, steps_per_epoch: int, elapsed_before: float) -> None:
        self.train, self.steps_per_epoch, self.elapsed_before = train, steps_per_epoch, elapsed_before
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.started

    def fraction(self, step: int) -> float:
        t = self.train
        parts = []
        if t.epochs is not None:
            parts.append(step / (t.epochs * self.steps_per_epoch))
        if t.minutes is not None:
            parts.append(self.elapsed() / (t.minutes * 60.0))
        if t.max_steps is not None:
            parts.append(step / t.max_steps)
        return min(1.0, max(parts))


@contextmanager
def out_of_memory_said(device: torch.device, batch_size: int, checkpoint: Path) -> Iterator[None]:
    """Running out of memory, on the GPU or the CPU, becomes one line of advice."""
    advice = f"out of memory on {device.type} at batch size {batch_size}: try a smaller --batch-size, --width or --resolution"
    try:
        yield
    except (torch.cuda.OutOfMemoryError, MemoryError):
        raise DistillError(advice + (" (the last checkpoint is kept; --resume goes on from it)" if checkpoint.exists() else "")) from None
    except RuntimeError as exc:
        if "out of memory" in str(exc).lower() or "can't allocate memory" in str(exc).lower():
            raise DistillError(advice) from None
        raise


class Trainer:
    def __init__(
        self,
        config: DistillConfig,
        teacher: Teacher,
        frames: FrameSet,
        *,
        selection: SelectionPool | None = None,
        on_progress: ProgressCallback | None = None,
        on_stage: Callable[[str], None] | None = None,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> None:
        self.config = config
        self.teacher = teacher
        self.frames = frames
        self.selection = selection
        self.on_progress = on_progress or (lambda p: None)
        self.on_stage = on_stage or (lambda s: None)
        self.cancelled = cancelled
        self.spec = StudentSpec(config.arch, config.width, config.resolution)  # type: ignore[arg-type]
        self.steps_per_epoch = max(1, math.ceil(len(frames.train) / config.train.batch_size))
        self.state = TrainState()
        self.keeper = BestKeeper(pool=selection.sources if selection is not None else None)
        self.labelled: MaskScorer | None = None
        self.pool: MaskScorer | None = None
        # (step, labelled figure, unseen-pool figure) of the latest validation.
        self.figures: tuple[int, Figure | None, Figure | None] | None = None

    def run(self) -> TrainResult:
        cfg, tcfg = self.config, self.config.train
        torch.manual_seed(tcfg.seed)
        if tcfg.threads:
            torch.set_num_threads(tcfg.threads)
        device = pick_device(tcfg.device)
        student, regressor, optimizer = self._build(device)
        if cfg.resume:
            self.state = checkpoints.resume(cfg, student, regressor, optimizer)
            self.keeper = BestKeeper(self.state.best, self.keeper.pool)  # --resume keeps the best so far
            if self.keeper.dropped and self.selection is not None:
                self.on_stage("the selection pool is not the one the checkpoint's best was chosen on: choosing afresh from here")
        elif cfg.init_from is not None:
            self.state.lineage = checkpoints.init_from(cfg.init_from, cfg, student)
        prepared = self._prepare()
        if prepared is None:  # cancelled while the teacher worked through the frames
            return self._result(student, device, cancelled=True)
        maker = BatchMaker(
            self.frames.train, self.teacher, targets=None if prepared is False else prepared, resolution=cfg.resolution, batch_size=tcfg.batch_size,
            augment=tcfg.augment, mosaic=tcfg.mosaic, seed=tcfg.seed + self.state.step,
        )  # fmt: skip
        try:
            cancelled = self._loop(student, regressor, optimizer, maker, device)
        finally:
            maker.close()
        self._save(student, regressor, optimizer)
        return self._result(student, device, cancelled=cancelled)

    def _build(self, device: torch.device) -> tuple[nn.Module, HintRegressor | None, torch.optim.Optimizer]:
        """The student, the hint regressor (--hint hint only) and their optimiser."""
        cfg = self.config
        student = make_student(
            self.spec, self.teacher, self.frames.train, slim_gates=cfg.slim_gates, slim_relu=cfg.slim_relu, slim_skip_last_stage=cfg.slim_skip_last_stage
        ).to(device)
        regressor: HintRegressor | None = None
        probe = self.teacher(self.frames.train[0].image).feature if cfg.loss.hint == "hint" else None
        if probe is not None:
            regressor = HintRegressor(student.feature_channels, probe.shape[0]).to(device)  # type: ignore[arg-type]
        params = list(student.parameters()) + (list(regressor.parameters()) if regressor else [])
        optimizer = torch.optim.AdamW(params, lr=cfg.train.learning_rate, weight_decay=cfg.train.weight_decay)
        return student, regressor, optimizer

    def _prepare(self) -> list[np.ndarray] | Literal[False] | None:
        """The validation truths and, where they can be, the teacher's soft targets, once.
        Returns the targets, False when the teacher must run per batch, None when cancelled."""
        self.labelled = MaskScorer([s.image for s in self.frames.val], self._val_truths(), self.config.resolution)
        if self.selection is not None:
            masks = teacher_masks(self.teacher, self.selection.frames, on_stage=self.on_stage, cancelled=self.cancelled)
            if masks is None:
                return None
            if all(size_bin(np.count_nonzero(m) / m.size) == "none" for m in masks):
                raise DistillError(
                    f"the teacher finds no person in any of the {len(masks)} frames of the selection pool: it cannot choose a checkpoint; give frames with people"
                )
            self.pool = MaskScorer([s.image for s in self.selection.frames], masks, self.config.resolution)
        if self.teacher.feature_name is not None:
            # Attention and hint transfer need the teacher's features of the very frame the student
            # sees, and a feature map does not survive a crop or a mosaic the way a probability
            # does: the teacher runs on each augmented frame, as before (the default --hint).
            return False
        return soft_targets(self.teacher, self.frames.train, on_stage=self.on_stage, cancelled=self.cancelled)

    def _val_truths(self) -> list[np.ndarray]:
        """Masks where the validation frames have them, else the teacher's own masks."""
        unlabelled = [s for s in self.frames.val if s.mask is None]
        from_teacher = iter(teacher_masks(self.teacher, unlabelled) or []) if unlabelled else iter(())
        return [s.mask > 0 if s.mask is not None else next(from_teacher) for s in self.frames.val]

    def _loop(self, student: nn.Module, regressor: HintRegressor | None, optimizer: torch.optim.Optimizer, maker: BatchMaker, device: torch.device) -> bool:
        """Steps until the budget is spent or the run is cancelled (True); validates and checkpoints on the way."""
        tcfg, state = self.config.train, self.state
        budget = Budget(tcfg, self.steps_per_epoch, state.elapsed)
        last_val = last_ckpt = time.perf_counter()
        smoothed: float | None = None
        student.train()
        with out_of_memory_said(device, tcfg.batch_size, self.config.checkpoint_path):
            while (fraction := budget.fraction(state.step)) < 1.0:
                if self.cancelled():
                    state.elapsed = budget.elapsed()
                    return True
                batch = maker.next()
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate(tcfg.learning_rate, fraction)
                loss = self._step(student, regressor, optimizer, batch, device)
                state.step += 1
                smoothed = loss if smoothed is None else 0.9 * smoothed + 0.1 * loss
                state.loss_curve.append((state.step, loss))
                now = time.perf_counter()
                val_iou = None
                if now - last_val >= tcfg.validate_every_s:
                    val_iou = self._validate(student, device, state.step)
                    last_val = time.perf_counter()
                if now - last_ckpt >= tcfg.checkpoint_every_s:
                    state.elapsed = budget.elapsed()
                    self._save(student, regressor, optimizer)
                    last_ckpt = time.perf_counter()
                self.on_progress(Progress(state.step, state.step / self.steps_per_epoch, budget.elapsed(), budget.fraction(state.step), smoothed, val_iou))
        state.elapsed = budget.elapsed()
        if self.figures is None or self.figures[0] != state.step:
            final = self._validate(student, device, state.step)
            if final is not None:
                self.on_progress(Progress(state.step, state.step / self.steps_per_epoch, state.elapsed, 1.0, smoothed or 0.0, final))
        return False

    def _validate(self, student: nn.Module, device: torch.device, step: int) -> float | None:
        """Both figures; the unseen pool's offers these weights to the keeper. Returns the labelled IoU."""
        labelled = self.labelled(student, device) if self.labelled is not None else None
        pooled = self.pool(student, device) if self.pool is not None else None
        labelled_iou = labelled.value if labelled is not None else None
        if labelled_iou is not None:
            self.state.val_curve.append((step, labelled_iou))
        if pooled is not None and pooled.value is not None:
            self.state.agreement_curve.append((step, pooled.value))
            self.keeper.offer(step, pooled, labelled, student)
        self.figures = (step, labelled, pooled)
        return labelled_iou

    def _result(self, student: nn.Module, device: torch.device, *, cancelled: bool) -> TrainResult:
        """The run's outcome; with an unseen pool, the student carries the weights that agreed best with it."""
        state = self.state
        validation = None if cancelled else self._choose(student, state.step, device)
        student.eval()
        return TrainResult(
            student=student.cpu(),
            steps=state.step,
            epochs=state.step / self.steps_per_epoch,
            seconds=state.elapsed,
            device=str(device),
            cancelled=cancelled,
            loss_curve=state.loss_curve,
            val_curve=state.val_curve,
            checkpoint=self.config.checkpoint_path,
            lineage=state.lineage,
            agreement_curve=state.agreement_curve,
            validation=validation,
        )

    def _choose(self, student: nn.Module, step: int, device: torch.device) -> dict:
        """Loads the chosen weights into ``student``; the card's validation section for them."""
        best = self.keeper.best
        if self.pool is not None and best is not None:
            student.load_state_dict(best["state_dict"])
            chosen_by, chosen, figures = CHOSEN_BY_POOL, best["step"], best["figures"]
        else:
            if self.figures is None or self.figures[0] != step:
                self._validate(student, device, step)
            _, labelled, pooled = self.figures  # type: ignore[misc]
            chosen_by, chosen = CHOSEN_LAST, step
            figures = {"labelled": labelled and labelled.to_json_dict("iou"), "unseen_pool": pooled and pooled.to_json_dict("agreement")}
        pool = figures["unseen_pool"]
        return {
            "labelled": {**(figures["labelled"] or {"iou": None, "frames": 0, "by_size": {}}), "against": _against(self.frames.val)},
            "unseen_pool": {**pool, "sources": self.selection.sources} if pool is not None and self.selection is not None else None,
            "chosen_by": chosen_by,
            "chosen_step": chosen,
            "size_bins": BIN_RULE,
        }

    def _step(self, student: nn.Module, regressor: HintRegressor | None, optimizer: torch.optim.Optimizer, batch: Batch, device: torch.device) -> float:
        lcfg = self.config.loss
        images = torch.from_numpy(batch.images).to(device)
        logit, feature = student(images)
        if logit.shape[-2:] != images.shape[-2:]:
            # A student whose mask comes out smaller (a skipped last stage) is judged on it resized
            # to the input, bilinearly, as the pipeline resizes it to the frame.
            logit = F.interpolate(logit, size=images.shape[-2:], mode="bilinear", align_corners=False)
        loss = lcfg.soft_weight * soft_target_loss(logit, torch.from_numpy(batch.teacher).to(device), lcfg.temperature)
        if lcfg.hard_weight and batch.has_mask.any():
            loss = loss + lcfg.hard_weight * hard_target_loss(logit, torch.from_numpy(batch.masks).to(device), torch.from_numpy(batch.has_mask).to(device))
        if batch.features is not None and lcfg.hint != "none":
            teacher_feature = torch.from_numpy(batch.features).to(device)
            if lcfg.hint == "attention":
                loss = loss + lcfg.hint_weight * attention_transfer_loss(feature, teacher_feature)
            elif regressor is not None:
                loss = loss + lcfg.hint_weight * regressor(feature, teacher_feature)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    def _save(self, student: nn.Module, regressor: nn.Module | None, optimizer: torch.optim.Optimizer) -> None:
        self.state.best = self.keeper.best
        checkpoints.save(self.config.checkpoint_path, self.config, student, regressor, optimizer, self.state)


def _against(val: tuple[Sample, ...]) -> str:
    """What the labelled figure compares with: validation frames without masks are scored against the teacher."""
    labelled = sum(s.mask is not None for s in val)
    if labelled == len(val):
        return "ground-truth masks"
    return "the teacher's masks" if labelled == 0 else "masks where given, else the teacher's"
