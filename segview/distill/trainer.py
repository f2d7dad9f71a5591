"""The training loop: a student learns from the teacher's soft targets (and masks, when there are any).

Runs on whichever thread calls :meth:`Trainer.run` (a worker thread in the studio);
it reports through a callback and stops at the next step when ``cancelled()`` is true,
leaving a checkpoint to resume from. Checkpoints hold state dicts and plain values
only, so they load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import copy
import io
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from segview.distill.architectures import StudentSpec, build_student
from segview.distill.availability import DistillError
from segview.distill.batches import Batch, BatchMaker
from segview.distill.config import GRAPH_ARCHS, DistillConfig
from segview.distill.data import FrameSet, Sample
from segview.distill.events import Progress
from segview.distill.losses import HintRegressor, attention_transfer_loss, hard_target_loss, soft_target_loss
from segview.distill.selection import BIN_RULE, BestKeeper, Figure, MaskScorer, SelectionPool, size_bin
from segview.distill.targets import soft_targets, teacher_masks
from segview.distill.teacher import Teacher
from segview.errors import SegviewError, first_line
from segview.fileio import atomic_write_bytes

CHECKPOINT_FORMAT = 1
CHOSEN_BY_POOL, CHOSEN_LAST = "unseen-pool agreement", "last step"
# What makes two students the same network (the input resolution does not: it is fully convolutional).
STUDENT_KNOBS = ("arch", "width", "slim_gates", "slim_relu", "slim_skip_last_stage")
# Frames whose mean squeeze-excite gates seed a slim student: the means settle within a few dozen.
GATE_SAMPLE_FRAMES = 64


@dataclass(frozen=True, slots=True)
class TrainResult:
    student: nn.Module
    steps: int
    epochs: float
    seconds: float
    device: str
    cancelled: bool
    loss_curve: list[tuple[int, float]] = field(default_factory=list)
    val_curve: list[tuple[int, float]] = field(default_factory=list)
    checkpoint: Path | None = None
    # The runs whose weights this one started from (--init-from), nearest first: a card's
    # training time must count them too.
    lineage: list[dict] = field(default_factory=list)
    agreement_curve: list[tuple[int, float]] = field(default_factory=list)
    # Both validation figures of the exported weights, and which step those are (selection.py).
    validation: dict | None = None


ProgressCallback = Callable[[Progress], None]


def pick_device(requested: str) -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError as exc:
        raise DistillError(f"unknown device {requested!r}: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DistillError("a CUDA device was asked for, but PyTorch sees no GPU here")
    return device


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
        self.lineage: list[dict] = []
        self.loss_curve: list[tuple[int, float]] = []
        self.val_curve: list[tuple[int, float]] = []
        self.agreement_curve: list[tuple[int, float]] = []
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
        student = make_student(
            self.spec, self.teacher, self.frames.train, slim_gates=cfg.slim_gates, slim_relu=cfg.slim_relu, slim_skip_last_stage=cfg.slim_skip_last_stage
        ).to(device)
        regressor: HintRegressor | None = None
        probe = self.teacher(self.frames.train[0].image).feature if cfg.loss.hint == "hint" else None
        if probe is not None:
            regressor = HintRegressor(student.feature_channels, probe.shape[0]).to(device)  # type: ignore[arg-type]
        params = list(student.parameters()) + (list(regressor.parameters()) if regressor else [])
        optimizer = torch.optim.AdamW(params, lr=tcfg.learning_rate, weight_decay=tcfg.weight_decay)
        step, elapsed_before = 0, 0.0
        if cfg.resume:
            step, elapsed_before = self._load(student, regressor, optimizer)
        elif cfg.init_from is not None:
            self._init_from(student, cfg.init_from)
        prepared = self._prepare()
        if prepared is None:  # cancelled while the teacher worked through the frames
            return self._result(student, step, elapsed_before, device, cancelled=True)
        maker = BatchMaker(
            self.frames.train, self.teacher, targets=None if prepared is False else prepared, resolution=cfg.resolution, batch_size=tcfg.batch_size,
            augment=tcfg.augment, mosaic=tcfg.mosaic, seed=tcfg.seed + step,
        )  # fmt: skip
        try:
            step, seconds, cancelled = self._loop(student, regressor, optimizer, maker, device, step, elapsed_before)
        finally:
            maker.close()
        self._save(student, regressor, optimizer, step, seconds)
        return self._result(student, step, seconds, device, cancelled=cancelled)

    def _prepare(self) -> list[np.ndarray] | bool | None:
        """The validation truths and, where they can be, the teacher's soft targets, once.
        Returns the targets, False when the teacher must run per batch, None when cancelled."""
        self.labelled = MaskScorer([s.image for s in self.frames.val], self._val_truths(), self.config.resolution)
        if self.selection is not None:
            masks = teacher_masks(self.teacher, self.selection.frames, on_stage=self.on_stage, cancelled=self.cancelled)
            if masks is None:
                return None
            if all(size_bin(np.count_nonzero(m) / m.size) == "none" for m in masks):
                raise DistillError(f"the teacher finds no person in any of the {len(masks)} frames of the selection pool: it cannot choose a checkpoint; give frames with people")
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

    def _loop(
        self, student: nn.Module, regressor: HintRegressor | None, optimizer: torch.optim.Optimizer, maker: BatchMaker, device: torch.device, step: int, elapsed_before: float
    ) -> tuple[int, float, bool]:
        """Steps until the budget is spent or the run is cancelled: (steps, seconds, cancelled)."""
        cfg, tcfg = self.config, self.config.train
        steps_per_epoch = max(1, math.ceil(len(self.frames.train) / tcfg.batch_size))
        started = time.perf_counter()
        last_val = last_ckpt = started
        smoothed: float | None = None

        def elapsed() -> float:
            return elapsed_before + time.perf_counter() - started

        def fraction() -> float:
            parts = []
            if tcfg.epochs is not None:
                parts.append(step / (tcfg.epochs * steps_per_epoch))
            if tcfg.minutes is not None:
                parts.append(elapsed() / (tcfg.minutes * 60.0))
            if tcfg.max_steps is not None:
                parts.append(step / tcfg.max_steps)
            return min(1.0, max(parts))

        student.train()
        try:
            while fraction() < 1.0:
                if self.cancelled():
                    return step, elapsed(), True
                batch = maker.next()
                for group in optimizer.param_groups:
                    group["lr"] = _learning_rate(tcfg.learning_rate, fraction())
                loss = self._step(student, regressor, optimizer, batch, device)
                step += 1
                smoothed = loss if smoothed is None else 0.9 * smoothed + 0.1 * loss
                self.loss_curve.append((step, loss))
                now = time.perf_counter()
                val_iou = None
                if now - last_val >= tcfg.validate_every_s:
                    val_iou = self._validate(student, device, step)
                    last_val = time.perf_counter()
                if now - last_ckpt >= tcfg.checkpoint_every_s:
                    self._save(student, regressor, optimizer, step, elapsed())
                    last_ckpt = time.perf_counter()
                self.on_progress(Progress(step, step / steps_per_epoch, elapsed(), fraction(), smoothed, val_iou))
        except (torch.cuda.OutOfMemoryError, MemoryError):
            raise DistillError(
                f"out of memory on {device.type} at batch size {tcfg.batch_size}: try a smaller --batch-size, --width or --resolution"
                + (" (the last checkpoint is kept; --resume goes on from it)" if cfg.checkpoint_path.exists() else "")
            ) from None
        except RuntimeError as exc:
            if "out of memory" in str(exc).lower() or "can't allocate memory" in str(exc).lower():
                raise DistillError(f"out of memory on {device.type} at batch size {tcfg.batch_size}: try a smaller --batch-size, --width or --resolution") from None
            raise
        if self.figures is None or self.figures[0] != step:
            final = self._validate(student, device, step)
            if final is not None:
                self.on_progress(Progress(step, step / steps_per_epoch, elapsed(), 1.0, smoothed or 0.0, final))
        return step, elapsed(), False

    def _validate(self, student: nn.Module, device: torch.device, step: int) -> float | None:
        """Both figures; the unseen pool's offers these weights to the keeper. Returns the labelled IoU."""
        labelled = self.labelled(student, device) if self.labelled is not None else None
        pooled = self.pool(student, device) if self.pool is not None else None
        labelled_iou = labelled.value if labelled is not None else None
        if labelled_iou is not None:
            self.val_curve.append((step, labelled_iou))
        if pooled is not None and pooled.value is not None:
            self.agreement_curve.append((step, pooled.value))
            self.keeper.offer(step, pooled, labelled, student)
        self.figures = (step, labelled, pooled)
        return labelled_iou

    def _result(self, student: nn.Module, step: int, seconds: float, device: torch.device, *, cancelled: bool) -> TrainResult:
        """The run's outcome; with an unseen pool, the student carries the weights that agreed best with it."""
        validation = None if cancelled else self._choose(student, step, device)
        student.eval()
        return TrainResult(
            student=student.cpu(),
            steps=step,
            epochs=step / max(1, math.ceil(len(self.frames.train) / self.config.train.batch_size)),
            seconds=seconds,
            device=str(device),
            cancelled=cancelled,
            loss_curve=self.loss_curve,
            val_curve=self.val_curve,
            checkpoint=self.config.checkpoint_path,
            lineage=self.lineage,
            agreement_curve=self.agreement_curve,
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

    # -- checkpoints --------------------------------------------------------------------

    def _save(self, student: nn.Module, regressor: nn.Module | None, optimizer: torch.optim.Optimizer, step: int, elapsed: float) -> None:
        path = self.config.checkpoint_path
        state = {
            "format": CHECKPOINT_FORMAT,
            "config": self.config.to_json_dict(),
            "student": student.state_dict(),
            "regressor": regressor.state_dict() if regressor is not None else None,
            "optimizer": optimizer.state_dict(),
            "step": step,
            "elapsed": elapsed,
            "lineage": self.lineage,
            "loss_curve": [list(p) for p in self.loss_curve],
            "val_curve": [list(p) for p in self.val_curve],
            "agreement_curve": [list(p) for p in self.agreement_curve],
            # The weights that agreed best with the unseen pool so far: what the run exports.
            "best": self.keeper.best,
        }
        # Serialised in memory first: torch.save on a full disk raises a RuntimeError without the
        # reason and leaves half a file; the atomic write says why and leaves the old checkpoint whole.
        buffer = io.BytesIO()
        torch.save(state, buffer)
        try:
            atomic_write_bytes(path, buffer.getvalue())
        except SegviewError as exc:
            kept = " (the last checkpoint is kept)" if path.exists() else ""
            raise DistillError(f"{exc}{kept}") from None

    def _read(self, path: Path, *, same: tuple[str, ...], advice: str) -> dict:
        """A checkpoint's contents, refused unless it was made for the same ``same`` knobs.
        (That it exists, distill() checks before the frames are read.)"""
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # pickle, zip and torch errors alike (torch's own text is advice about weights_only)
            raise DistillError(f"checkpoint {path} cannot be read: not a segview distillation checkpoint, or damaged") from None
        if not isinstance(state, dict) or "student" not in state:
            raise DistillError(f"checkpoint {path} is not a segview distillation checkpoint")
        saved = state.get("config", {})
        mine = self.config.to_json_dict()
        # Checkpoints from before the slim knobs existed were made with their defaults.
        defaults = {f.name: f.default for f in fields(DistillConfig)}
        for key in same:
            theirs = saved.get(key, defaults[key])
            if theirs != mine[key]:
                raise DistillError(f"checkpoint {path} is for {key} {theirs!r}, not {mine[key]!r}; {advice}")
        return state

    def _init_from(self, student: nn.Module, path: Path) -> None:
        """Another run's student weights; the network must be the same, its input size need not."""
        state = self._read(path, same=STUDENT_KNOBS, advice="--init-from needs a student of the same architecture")
        try:
            student.load_state_dict(state["student"])
        except RuntimeError as exc:  # another teacher's network: names or shapes differ
            raise DistillError(f"checkpoint {path} holds another network: {first_line(exc)}") from None
        self.lineage = [_ancestor(path, state), *state.get("lineage", [])]

    def _load(self, student: nn.Module, regressor: nn.Module | None, optimizer: torch.optim.Optimizer) -> tuple[int, float]:
        path = self.config.checkpoint_path
        state = self._read(path, same=(*STUDENT_KNOBS, "resolution"), advice="start afresh without --resume")
        if (state.get("regressor") is None) != (regressor is None):
            raise DistillError(f"checkpoint {path} was made with another --hint setting")
        student.load_state_dict(state["student"])
        if regressor is not None:
            regressor.load_state_dict(state["regressor"])
        optimizer.load_state_dict(state["optimizer"])
        self.lineage = list(state.get("lineage", []))
        parent = state.get("config", {}).get("init_from")
        if not self.lineage and parent and Path(parent).exists():
            # A checkpoint from before lineage was recorded: its parent may still say what it was.
            try:
                self.lineage = [_ancestor(Path(parent), torch.load(parent, map_location="cpu", weights_only=True))]
            except Exception:  # noqa: BLE001 - only the card's history is lost, not the run
                self.lineage = []
        self.loss_curve = [tuple(p) for p in state["loss_curve"]]  # type: ignore[misc]
        self.val_curve = [tuple(p) for p in state["val_curve"]]  # type: ignore[misc]
        self.agreement_curve = [tuple(p) for p in state.get("agreement_curve", [])]  # type: ignore[misc]
        self.keeper = BestKeeper(state.get("best"), self.keeper.pool)  # --resume keeps the best so far
        if self.keeper.dropped and self.selection is not None:
            self.on_stage("the selection pool is not the one the checkpoint's best was chosen on: choosing afresh from here")
        return int(state["step"]), float(state["elapsed"])


def make_student(
    spec: StudentSpec,
    teacher: Teacher,
    frames: tuple[Sample, ...] = (),
    *,
    slim_gates: tuple[str, ...] | None = None,
    slim_relu: bool = False,
    slim_skip_last_stage: bool = False,
) -> nn.Module:
    """The student network; graph students start from the teacher's weights (slim ones
    with its squeeze-excite gates, or just ``slim_gates``, replaced by their means over ``frames``)."""
    if spec.arch not in GRAPH_ARCHS:
        return build_student(spec)
    from segview.distill.graph_student import GraphStudent
    from segview.inference.inspect import load_onnx

    card = teacher.card
    n = card.normalization
    if card.layout != "NCHW" or card.color_order != "RGB" or abs(n.scale - 1 / 255) > 1e-9 or any(n.mean) or any(s != 1 for s in n.std):
        # Students take RGB in [0, 1], NCHW; the rebuilt graph must take the same.
        raise DistillError(f"the {spec.arch} student needs a teacher that takes NCHW RGB scaled to [0, 1]; {teacher.name} does not")
    model = load_onnx(teacher.entry.path)
    if spec.arch == "slim":
        from segview.distill.slim_graph import mean_gates, slim_graph, squeeze_excite_gates

        available = [g.output[0] for g in squeeze_excite_gates(model)]
        unknown = sorted(set(slim_gates or ()) - set(available))
        if unknown:
            raise DistillError(f"{teacher.name} has no squeeze-excite gate producing {', '.join(unknown)}; its gates: {', '.join(available) or 'none'}")
        sample = frames[:GATE_SAMPLE_FRAMES]
        means = mean_gates(model, (teacher.preprocess(s.image) for s in sample))
        try:
            model = slim_graph(model, means, relu=slim_relu, only=slim_gates, skip_last_stage=slim_skip_last_stage)
        except ValueError as exc:  # a last stage that cannot be skipped
            raise DistillError(f"{teacher.name}: {exc}") from None
    from segview.graphs.commute import pointwise_before_upsampling

    swapped = pointwise_before_upsampling(model)  # exact, and less memory traffic
    student = GraphStudent(model, feature=teacher.feature_name, name=teacher.name)
    student.pointwise_before_upsampling = swapped
    if spec.arch == "slim":
        student.removed_gates = list(slim_gates) if slim_gates is not None else available
    return student


def _against(val: tuple[Sample, ...]) -> str:
    """What the labelled figure compares with: validation frames without masks are scored against the teacher."""
    labelled = sum(s.mask is not None for s in val)
    if labelled == len(val):
        return "ground-truth masks"
    return "the teacher's masks" if labelled == 0 else "masks where given, else the teacher's"


def _ancestor(path: Path, state: dict) -> dict:
    """What a card says of a run this one started from."""
    return {
        "checkpoint": str(path),
        "steps": int(state.get("step", 0)),
        "seconds": round(float(state.get("elapsed", 0.0)), 1),
        "resolution": state.get("config", {}).get("resolution"),
    }


def _learning_rate(base: float, fraction: float) -> float:
    """A short warm-up, then a cosine to 2% of the base: a time budget knows where it ends."""
    if fraction < 0.03:
        return base * (0.1 + 0.9 * fraction / 0.03)
    progress = (fraction - 0.03) / 0.97
    return base * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress)))


def snapshot(student: nn.Module) -> nn.Module:
    return copy.deepcopy(student).cpu().eval()
