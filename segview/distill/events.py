"""What a distillation run reports, as plain values (no torch): shared by the trainer,
the runner, the CLI's ``--events`` stream and the studio's page."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Progress:
    """One report from the loop; ``val_iou`` is set on the reports that follow a validation."""

    step: int
    epoch: float
    elapsed_s: float
    fraction: float  # of the budget (epochs, minutes or steps), 0..1
    loss: float
    val_iou: float | None = None
    message: str = ""

    def to_json_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class DistillOutcome:
    """What a finished (or cancelled) run produced."""

    cancelled: bool
    model_path: Path | None
    name: str | None
    checkpoint: Path | None
    steps: int
    seconds: float
    loss_curve: list[tuple[int, float]] = field(default_factory=list)
    val_curve: list[tuple[int, float]] = field(default_factory=list)
    card_extra: dict[str, Any] | None = None

    def to_json_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("model_path", "checkpoint"):
            data[key] = str(data[key]) if data[key] is not None else None
        return data

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> DistillOutcome:
        return cls(
            cancelled=bool(data["cancelled"]),
            model_path=Path(data["model_path"]) if data.get("model_path") else None,
            name=data.get("name"),
            checkpoint=Path(data["checkpoint"]) if data.get("checkpoint") else None,
            steps=int(data.get("steps", 0)),
            seconds=float(data.get("seconds", 0.0)),
            loss_curve=[(int(s), float(v)) for s, v in data.get("loss_curve", [])],
            val_curve=[(int(s), float(v)) for s, v in data.get("val_curve", [])],
            card_extra=data.get("card_extra"),
        )
