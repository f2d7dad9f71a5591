"""Typed settings of one distillation run; saved in the checkpoint and the student's card."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

from segview.errors import DistillError
from segview.jsonsafe import json_safe

ARCHS: tuple[str, ...] = ("mobilenet", "enet", "rescaled", "slim")
# Built from the teacher's own graph: "rescaled" is its network at a lower resolution
# (graph_student.py); "slim" is that without the squeeze-excite gates (slim_graph.py).
GRAPH_ARCHS: tuple[str, ...] = ("rescaled", "slim")
HintKind = Literal["none", "attention", "hint"]
HINT_KINDS = ("none", "attention", "hint")


@dataclass(frozen=True, slots=True)
class DataConfig:
    """Where frames come from: any mix of image folders, videos, live sources and recorded
    sessions, plus synthetic composites. Masks (0/255 PNGs sharing the images' stems) are optional."""

    images: tuple[Path, ...] = ()  # image folders (one Path or None is accepted and normalised)
    masks: Path | None = None  # masks for the first image folder
    videos: tuple[str, ...] = ()  # video files or any segview source spec (camera:0, adb ...)
    recordings: tuple[Path, ...] = ()  # segview recorded session folders (their video, if they hold one)
    video_every: int = 5  # keep every Nth video frame: neighbours are near-duplicates
    video_max_frames: int = 400  # per video or live source, so a camera cannot run forever
    # A video frame whose 32x32 grey thumbnail differs from the last kept one by less than this
    # mean absolute difference (0-255) is a near-duplicate and dropped; 0 keeps every frame.
    thin: float = 4.0
    licences: tuple[tuple[str, str], ...] = ()  # (source name or path, licence text), for the card
    composites: int = 0  # synthetic frames: people cut out of the pool, pasted over backgrounds
    backgrounds: tuple[Path, ...] = ()
    composite_seed: int = 0
    # An explicit validation set that training never sees; without one a fraction is held out.
    val_images: Path | None = None
    val_masks: Path | None = None
    val_fraction: float = 0.1
    # Frames are kept in memory at most this long side: students train at 128-256 px.
    max_side: int = 384

    def __post_init__(self) -> None:
        # Older callers pass one folder (or None); frozen, so set through object.
        if self.images is None or isinstance(self.images, (str, Path)):
            object.__setattr__(self, "images", () if self.images is None else (Path(self.images),))
        object.__setattr__(self, "images", tuple(Path(p) for p in self.images))
        object.__setattr__(self, "recordings", tuple(Path(p) for p in self.recordings))
        object.__setattr__(self, "backgrounds", tuple(Path(p) for p in self.backgrounds))
        if self.thin < 0:
            raise DistillError("--thin is a mean difference in grey levels, 0 or more")
        if self.composites < 0:
            raise DistillError("--composites must be 0 or more")
        if self.composites and not self.backgrounds:
            raise DistillError("--composites needs --backgrounds DIR: the people are pasted over those images")


@dataclass(frozen=True, slots=True)
class SelectConfig:
    """An unseen selection pool: frames from sources the run never trains on, scored by their
    agreement with the teacher; with one, the checkpoint that agrees best is the one exported."""

    images: tuple[Path, ...] = ()
    videos: tuple[str, ...] = ()  # read like training videos (every video_every-th frame, at most video_max_frames)

    @property
    def given(self) -> bool:
        return bool(self.images or self.videos)


@dataclass(frozen=True, slots=True)
class LossConfig:
    """Hinton et al.'s soft targets at a temperature, plus ground truth and an optional hint term."""

    temperature: float = 2.0
    soft_weight: float = 1.0
    hard_weight: float = 1.0  # only where a frame has a mask
    hint: HintKind = "attention"
    hint_weight: float = 1.0
    hint_layer: str | None = None  # teacher tensor to mimic; None picks the deepest encoder tensor


@dataclass(frozen=True, slots=True)
class TrainConfig:
    epochs: int | None = None
    minutes: float | None = 10.0
    batch_size: int = 16
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0
    device: str = "auto"  # auto: a CUDA GPU when present, else the CPU
    threads: int = 2
    augment: bool = True
    mosaic: float = 0.0  # chance that a training frame is a 2x2 mosaic of four (people shown smaller)
    validate_every_s: float = 30.0
    checkpoint_every_s: float = 60.0
    max_steps: int | None = None  # a hard cap, for tests and smoke runs

    def __post_init__(self) -> None:
        if self.epochs is None and self.minutes is None and self.max_steps is None:
            raise DistillError("give a training length: epochs, minutes or steps")
        if self.epochs is not None and self.epochs <= 0:
            raise DistillError("epochs must be positive")
        if self.minutes is not None and self.minutes <= 0:
            raise DistillError("minutes must be positive")
        if self.batch_size <= 0:
            raise DistillError("batch size must be positive")
        if not 0.0 <= self.mosaic <= 1.0:
            raise DistillError("mosaic is a probability, between 0 and 1")


@dataclass(frozen=True, slots=True)
class DistillConfig:
    teacher: str
    arch: str = "mobilenet"
    width: float = 1.0
    resolution: int = 160
    # slim students: the squeeze-excite gates to remove, by the tensor each produces (None: all).
    slim_gates: tuple[str, ...] | None = None
    slim_relu: bool = False  # slim students: Relu for HardSwish (faster, further from the teacher)
    # slim students: the output layer reads the decoder's last stage's input (half-resolution mask, faster).
    slim_skip_last_stage: bool = False
    data: DataConfig = DataConfig()
    loss: LossConfig = LossConfig()
    train: TrainConfig = TrainConfig()
    select: SelectConfig = SelectConfig()
    out: Path = Path("student.onnx")
    name: str | None = None  # registry name; default: the output file's stem
    checkpoint: Path | None = None  # default: beside the output, <stem>.ckpt.pt
    resume: bool = False
    # Start from another run's student weights (same network; its resolution may differ):
    # a student trained at one input size fine-tuned at another keeps what it learned.
    init_from: Path | None = None
    command: tuple[str, ...] = field(default=(), compare=False)  # the command line, for the card's recipe

    @property
    def checkpoint_path(self) -> Path:
        return self.checkpoint or self.out.with_name(self.out.stem + ".ckpt.pt")

    @property
    def model_name(self) -> str:
        return self.name or self.out.stem

    def check(self) -> None:
        """What refuses a run before the teacher loads or a frame is read, as a DistillError.
        (Each part's own rules are in its __post_init__; these look at the student's rules and the files.)"""
        # Here, not at the top: the student's rules live with the networks (torch), the overlap with selection.
        from segview.distill.architectures import StudentSpec
        from segview.distill.selection import check_selection_sources

        try:
            StudentSpec(self.arch, self.width, self.resolution)  # type: ignore[arg-type]
        except ValueError as exc:
            raise DistillError(str(exc)) from None
        if self.arch != "slim" and (self.slim_gates or self.slim_relu or self.slim_skip_last_stage):
            raise DistillError("--slim-gates, --slim-relu and --slim-skip-last-stage apply to --arch slim only")
        if self.out.suffix.lower() != ".onnx":
            raise DistillError(f"the output must be an .onnx file, not {self.out.name}")
        if not self.out.parent.is_dir():
            raise DistillError(f"cannot write {self.out}: folder {self.out.parent} does not exist")
        if self.resume and self.init_from is not None:
            raise DistillError("--resume goes on with a run and --init-from starts a new one from another's weights: give one of them")
        if self.resume and not self.checkpoint_path.exists():
            raise DistillError(f"nothing to resume: no checkpoint at {self.checkpoint_path}")
        if self.init_from is not None and not self.init_from.exists():
            raise DistillError(f"nothing to start from: no checkpoint at {self.init_from}")
        check_selection_sources(self.select, self.data)  # an unseen pool the run trains on is not unseen

    def to_json_dict(self) -> dict[str, Any]:
        # Paths become strings and tuples lists: JSON for the card, and what torch.load(weights_only=True) reads back.
        return json_safe(asdict(self))

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> DistillConfig:
        """The config :meth:`to_json_dict` wrote (a child process's whole run); DistillError on an unknown key."""
        return _revive(cls, data)


def _revive(cls: type, data: Any) -> Any:
    """A config dataclass from its plain form: nested configs, tuples for lists, Paths where the field says so."""
    if not isinstance(data, dict):
        raise DistillError(f"a distillation config's {cls.__name__} must be a JSON object")
    hints = get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise DistillError(f"unknown setting in the distillation config: {', '.join(unknown)}")
    return cls(**{name: _typed(hints[name], value) for name, value in data.items()})


def _typed(hint: Any, value: Any) -> Any:
    if is_dataclass(hint):
        return _revive(hint, value)  # type: ignore[arg-type]
    if value is None:
        return None
    if isinstance(value, list):
        value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        inner = [a for a in get_args(hint) if get_origin(a) is tuple] or ([hint] if get_origin(hint) is tuple else [])
        return tuple(Path(v) for v in value) if inner and get_args(inner[0])[:1] == (Path,) else value
    return Path(value) if hint is Path or Path in get_args(hint) else value
