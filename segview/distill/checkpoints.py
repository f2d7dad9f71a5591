"""A run's checkpoint: what --resume goes on from and what --init-from starts from.

Checkpoints hold state dicts and plain values only, so they load with
``torch.load(weights_only=True)``: nothing in one can run code.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from segview.distill.config import DistillConfig
from segview.errors import DistillError, SegviewError, first_line
from segview.fileio import atomic_write_bytes

CHECKPOINT_FORMAT = 1
# What makes two students the same network (the input resolution does not: it is fully convolutional).
STUDENT_KNOBS = ("arch", "width", "slim_gates", "slim_relu", "slim_skip_last_stage")

Curve = list[tuple[int, float]]


@dataclass(slots=True)
class TrainState:
    """Where a run stands: what a checkpoint keeps besides the weights and the optimiser."""

    step: int = 0
    elapsed: float = 0.0  # training seconds, over every --resume
    loss_curve: Curve = field(default_factory=list)
    val_curve: Curve = field(default_factory=list)
    agreement_curve: Curve = field(default_factory=list)
    # The runs whose weights this one started from (--init-from), nearest first: a card's
    # training time must count them too.
    lineage: list[dict] = field(default_factory=list)
    # The weights that agreed best with the unseen pool so far (selection.BestKeeper): what the run exports.
    best: dict[str, Any] | None = None


def save(path: Path, config: DistillConfig, student: nn.Module, regressor: nn.Module | None, optimizer: torch.optim.Optimizer, state: TrainState) -> None:
    """Writes the checkpoint atomically; DistillError (saying whether the last one is kept) when it cannot."""
    contents = {
        "format": CHECKPOINT_FORMAT,
        "config": config.to_json_dict(),
        "student": student.state_dict(),
        "regressor": regressor.state_dict() if regressor is not None else None,
        "optimizer": optimizer.state_dict(),
        "step": state.step,
        "elapsed": state.elapsed,
        "lineage": state.lineage,
        "loss_curve": [list(p) for p in state.loss_curve],
        "val_curve": [list(p) for p in state.val_curve],
        "agreement_curve": [list(p) for p in state.agreement_curve],
        "best": state.best,
    }
    # Serialised in memory first: torch.save on a full disk raises a RuntimeError without the
    # reason and leaves half a file; the atomic write says why and leaves the old checkpoint whole.
    buffer = io.BytesIO()
    torch.save(contents, buffer)
    try:
        atomic_write_bytes(path, buffer.getvalue())
    except SegviewError as exc:
        kept = " (the last checkpoint is kept)" if path.exists() else ""
        raise DistillError(f"{exc}{kept}") from None


def read(path: Path, config: DistillConfig, *, same: tuple[str, ...], advice: str) -> dict:
    """A checkpoint's contents, refused unless it was made for the same ``same`` knobs as ``config``.
    (That it exists, DistillConfig.check() makes sure before the frames are read.)"""
    try:
        contents = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # pickle, zip and torch errors alike (torch's own text is advice about weights_only)
        raise DistillError(f"checkpoint {path} cannot be read: not a segview distillation checkpoint, or damaged") from None
    if not isinstance(contents, dict) or "student" not in contents:
        raise DistillError(f"checkpoint {path} is not a segview distillation checkpoint")
    saved = contents.get("config", {})
    mine = config.to_json_dict()
    # Checkpoints from before the slim knobs existed were made with their defaults.
    defaults = {f.name: f.default for f in fields(DistillConfig)}
    for key in same:
        theirs = saved.get(key, defaults[key])
        if theirs != mine[key]:
            raise DistillError(f"checkpoint {path} is for {key} {theirs!r}, not {mine[key]!r}; {advice}")
    return contents


def init_from(path: Path, config: DistillConfig, student: nn.Module) -> list[dict]:
    """Loads another run's student weights (the same network; its input size need not be); returns the lineage."""
    contents = read(path, config, same=STUDENT_KNOBS, advice="--init-from needs a student of the same architecture")
    try:
        student.load_state_dict(contents["student"])
    except RuntimeError as exc:  # another teacher's network: names or shapes differ
        raise DistillError(f"checkpoint {path} holds another network: {first_line(exc)}") from None
    return [ancestor(path, contents), *contents.get("lineage", [])]


def resume(config: DistillConfig, student: nn.Module, regressor: nn.Module | None, optimizer: torch.optim.Optimizer) -> TrainState:
    """Loads the run's own checkpoint into the student, regressor and optimiser; where it stood."""
    path = config.checkpoint_path
    contents = read(path, config, same=(*STUDENT_KNOBS, "resolution"), advice="start afresh without --resume")
    if (contents.get("regressor") is None) != (regressor is None):
        raise DistillError(f"checkpoint {path} was made with another --hint setting")
    student.load_state_dict(contents["student"])
    if regressor is not None:
        regressor.load_state_dict(contents["regressor"])
    optimizer.load_state_dict(contents["optimizer"])
    return TrainState(
        step=int(contents["step"]),
        elapsed=float(contents["elapsed"]),
        loss_curve=[tuple(p) for p in contents["loss_curve"]],
        val_curve=[tuple(p) for p in contents["val_curve"]],
        agreement_curve=[tuple(p) for p in contents.get("agreement_curve", [])],
        lineage=list(contents.get("lineage", [])) or _old_lineage(contents),
        best=contents.get("best"),
    )


def _old_lineage(contents: dict) -> list[dict]:
    """A checkpoint from before lineage was recorded: its parent may still say what it was."""
    parent = contents.get("config", {}).get("init_from")
    if not parent or not Path(parent).exists():
        return []
    try:
        return [ancestor(Path(parent), torch.load(parent, map_location="cpu", weights_only=True))]
    except Exception:  # noqa: BLE001 - only the card's history is lost, not the run
        return []


def ancestor(path: Path, contents: dict) -> dict:
    """What a card says of a run this one started from."""
    return {
        "checkpoint": str(path),
        "steps": int(contents.get("step", 0)),
        "seconds": round(float(contents.get("elapsed", 0.0)), 1),
        "resolution": contents.get("config", {}).get("resolution"),
    }
