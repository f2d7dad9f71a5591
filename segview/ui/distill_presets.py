"""The student sizes the Distill page offers, from tiny to small, each with its training recipe.

A module of its own so the page's form only lists them: what a preset builds and how it trains
(learning rate, loss, mosaic) is written here once, beside the shipped students' recipe.
"""

from __future__ import annotations

from dataclasses import dataclass

from segview.distill.config import LossConfig


@dataclass(frozen=True, slots=True)
class StudentPreset:
    label: str
    arch: str
    width: float
    resolution: int
    slim_gates: tuple[str, ...] | None = None
    # Students built from the teacher's weights fine-tune gently, on its soft targets only
    # (the recipe of the shipped students, models/selfie-students.md).
    learning_rate: float = 3e-3
    loss: LossConfig = LossConfig()
    slim_skip_last_stage: bool = False
    mosaic: float = 0.0  # see TrainConfig.mosaic

    def file_name(self, teacher: str) -> str:
        """The student's suggested file name, beside its teacher."""
        return f"{teacher}-student-{self.arch}-{self.width:g}x-{self.resolution}.onnx"


_FINE_TUNE = LossConfig(hint="none", hard_weight=0.0)

# From tiny to small; the two shipped students are the two "slim" ones.
PRESETS = (
    StudentPreset(
        "fast: the teacher without its gates and last decoder stage, 224 px",
        "slim",
        1.0,
        224,
        slim_skip_last_stage=True,
        learning_rate=2e-4,
        loss=_FINE_TUNE,
        mosaic=0.5,
    ),
    StudentPreset("accurate: the teacher without its last decoder gate, 224 px", "slim", 1.0, 224, ("multiply_9",), learning_rate=1e-4, loss=_FINE_TUNE),
    StudentPreset("tiny: MobileNet x0.5, 128 px", "mobilenet", 0.5, 128),
    StudentPreset("MobileNet x1.0, 128 px", "mobilenet", 1.0, 128),
    StudentPreset("MobileNet x1.0, 160 px", "mobilenet", 1.0, 160),
    StudentPreset("ENet-style x1.0, 128 px", "enet", 1.0, 128),
    StudentPreset("small: ENet-style x1.5, 160 px", "enet", 1.5, 160),
)
DEFAULT_PRESET = 1  # the page opens on "accurate"
