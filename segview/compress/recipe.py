"""Recipes: what a compression job does, as typed values and as JSON.

The wizard saves one; ``segview compress --recipe FILE`` replays it with the
same code. Paths are stored as given (absolute when the wizard writes them).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segview.compress.calibration import CalibrationSpec
from segview.compress.measure import MeasureOptions
from segview.compress.step import Step, StepConfig, chain_problem, config_from_dict, form_of_card, get_step
from segview.errors import CompressionError, SegviewError
from segview.fileio import atomic_write_json, user_path
from segview.inference.registry import ModelRegistry

RECIPE_VERSION = 1


@dataclass(frozen=True, slots=True)
class StepSpec:
    name: str
    config: StepConfig

    @property
    def step(self) -> Step:
        return get_step(self.name)

    def to_json_dict(self) -> dict[str, Any]:
        return {"step": self.name, "config": self.config.to_json_dict()}

    @classmethod
    def make(cls, name: str, **options: Any) -> StepSpec:
        step = get_step(name)
        return cls(name, config_from_dict(step, options))

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> StepSpec:
        if not isinstance(data, dict) or "step" not in data:
            raise CompressionError("recipe: each step needs a 'step' name")
        step = get_step(str(data["step"]))
        options = data.get("config", {})
        if not isinstance(options, dict):
            raise CompressionError(f"recipe: the config of step {step.name!r} must be an object")
        return cls(step.name, config_from_dict(step, options))


@dataclass(frozen=True, slots=True)
class Recipe:
    model: str
    steps: tuple[StepSpec, ...]
    calibration: CalibrationSpec | None = None
    eval_images: str | None = None
    eval_masks: str | None = None
    # A folder (the file is named after the source and the steps) or a path ending in .onnx; None: the user models folder.
    out: str | None = None
    name: str | None = None
    measure: MeasureOptions = field(default_factory=MeasureOptions)

    def validate(self) -> None:
        if not self.steps:
            raise CompressionError("a compression recipe needs at least one step")
        if (self.eval_images is None) != (self.eval_masks is None):
            raise CompressionError("give both evaluation images and masks, or neither")
        if self.calibration is None:
            needing = [s.name for s in self.steps if s.step.needs_calibration]
            if needing:
                raise CompressionError(f"step {needing[0]!r} needs calibration frames: give an image folder, a video or a live source (--calib)")
        if self.name is not None and (not self.name.strip() or os.sep in self.name or "/" in self.name):
            raise CompressionError(f"output name {self.name!r} must be a plain file name")
        problem = chain_problem([s.name for s in self.steps])
        if problem:
            raise CompressionError(problem)
        for what, text in (("model", self.model), ("out", self.out), ("eval_images", self.eval_images), ("eval_masks", self.eval_masks), ("name", self.name)):
            if text is not None:  # a NUL byte or an over-long name: one line now, not a ValueError mid-job
                user_path(text, f"recipe {what}", CompressionError)

    def settled(self, registry: ModelRegistry) -> Recipe:
        """This recipe checked against its model and given a result name no other model has.

        The chain is checked against the source's weights (an int8 model takes no int8 step). A name given
        explicitly (``name``, or ``out`` naming a .onnx file) that another model holds is refused; the default
        name (source and steps, e.g. selfie-general-int8) moves on to the first free ``-2``, ``-3`` ...
        A result written again over its own earlier file keeps its name."""
        from segview.compress.runner import output_path  # the runner imports this module

        entry = registry.resolve(self.model)
        problem = chain_problem([s.name for s in self.steps], source_form=form_of_card(entry.card), source=entry.name)
        if problem:
            raise CompressionError(problem)
        target = output_path(self, entry)
        if registry.name_is_free(target.stem, target):
            return self
        taken = registry.resolve(target.stem).path
        if self.name is not None or (self.out or "").lower().endswith(".onnx"):
            raise CompressionError(f"the name {target.stem!r} is taken by {taken}; choose another name")
        free = next(n for n in range(2, 10_000) if registry.name_is_free(f"{target.stem}-{n}", target.with_name(f"{target.stem}-{n}.onnx")))
        return dataclasses.replace(self, name=f"{target.stem}-{free}")

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "segview_recipe": RECIPE_VERSION,
            "model": self.model,
            "steps": [s.to_json_dict() for s in self.steps],
            "calibration": None if self.calibration is None else self.calibration.to_json_dict(),
            "eval_images": self.eval_images,
            "eval_masks": self.eval_masks,
            "out": self.out,
            "name": self.name,
            "measure": self.measure.to_json_dict(),
        }

    @classmethod
    def from_json_dict(cls, data: Any, *, where: str = "recipe") -> Recipe:
        if not isinstance(data, dict) or "model" not in data or "steps" not in data:
            raise CompressionError(f"{where} is not a segview compression recipe (needs 'model' and 'steps')")
        version = data.get("segview_recipe", RECIPE_VERSION)
        if version != RECIPE_VERSION:
            raise CompressionError(f"{where} has recipe version {version!r}; this segview reads version {RECIPE_VERSION}")
        if not isinstance(data["steps"], list):
            raise CompressionError(f"{where}: 'steps' must be a list")
        for section in ("calibration", "measure"):
            if data.get(section) and not isinstance(data[section], dict):
                raise CompressionError(f"{where}: {section!r} must be an object")
        try:
            calibration = CalibrationSpec.from_json_dict(data["calibration"]) if data.get("calibration") else None
            measure = MeasureOptions.from_json_dict(data.get("measure") or {})
        except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: int(1e999)
            raise CompressionError(f"{where}: {exc}") from None
        recipe = cls(
            model=str(data["model"]),
            steps=tuple(StepSpec.from_json_dict(s) for s in data["steps"]),
            calibration=calibration,
            eval_images=_opt_str(data.get("eval_images")),
            eval_masks=_opt_str(data.get("eval_masks")),
            out=_opt_str(data.get("out")),
            name=_opt_str(data.get("name")),
            measure=measure,
        )
        recipe.validate()
        return recipe

    def save(self, path: Path) -> None:
        atomic_write_json(Path(path), self.to_json_dict())

    @classmethod
    def load(cls, path: Path) -> Recipe:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SegviewError(f"cannot read recipe {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise CompressionError(f"recipe {path.name} is not UTF-8 text (byte {exc.start})") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CompressionError(f"recipe {path.name} is not valid JSON: {exc}") from None
        return cls.from_json_dict(data, where=f"recipe {path.name}")


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)
