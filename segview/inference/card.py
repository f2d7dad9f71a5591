"""Model cards: what a segmentation model expects and what it returns.

A card is a JSON file beside the ONNX file (``model.onnx`` -> ``model.json``).
When there is none, :mod:`segview.inference.inspect` infers one from the graph.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from segview.errors import ModelError

Layout = Literal["NCHW", "NHWC"]
ColorOrder = Literal["RGB", "BGR"]
# sigmoid: one channel, already a probability. logits: one channel, raw score.
# softmax: C channels of class probabilities. class_logits: C channels of raw scores.
OutputKind = Literal["sigmoid", "logits", "softmax", "class_logits"]

LAYOUTS = ("NCHW", "NHWC")
COLOR_ORDERS = ("RGB", "BGR")
OUTPUT_KINDS = ("sigmoid", "logits", "softmax", "class_logits")


@dataclass(frozen=True, slots=True)
class Normalization:
    """value = (pixel * scale - mean[c]) / std[c], per channel in the model's colour order."""

    scale: float = 1.0 / 255.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)


@dataclass(frozen=True, slots=True)
class ModelCard:
    name: str
    input_name: str
    width: int
    height: int
    layout: Layout
    output_name: str
    output_kind: OutputKind
    classes: tuple[str, ...] = ("background", "person")
    color_order: ColorOrder = "RGB"
    normalization: Normalization = Normalization()
    title: str = ""
    task: str = "segmentation"
    source: str = ""
    license: str = ""
    # Where the card came from: "card" (a JSON file), "metadata" (ONNX metadata) or "inferred".
    origin: str = "card"
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_binary(self) -> bool:
        return self.output_kind in ("sigmoid", "logits")

    @property
    def foreground_class(self) -> int:
        """Index of the class counted as 'person' for IoU: 'person' if named, else 1."""
        lowered = [c.lower() for c in self.classes]
        return lowered.index("person") if "person" in lowered else 1

    def with_name(self, name: str) -> ModelCard:
        return replace(self, name=name)

    def to_json_dict(self) -> dict[str, Any]:
        norm = self.normalization
        data: dict[str, Any] = dict(self.extra)
        data.update(
            {
                "name": self.name,
                "title": self.title,
                "task": self.task,
                "source": self.source,
                "license": self.license,
                "input": {
                    "name": self.input_name,
                    "width": self.width,
                    "height": self.height,
                    "layout": self.layout,
                    "color_order": self.color_order,
                    "dtype": "float32",
                    "normalization": {"scale": norm.scale, "mean": list(norm.mean), "std": list(norm.std)},
                },
                "output": {"name": self.output_name, "kind": self.output_kind, "classes": list(self.classes)},
            }
        )
        return data

    @classmethod
    def from_json_dict(cls, data: dict[str, Any], *, where: str = "model card") -> ModelCard:
        try:
            inp = data["input"]
            out = data["output"]
            norm = inp.get("normalization", {})
            card = cls(
                name=str(data["name"]),
                title=str(data.get("title", "")),
                task=str(data.get("task", "segmentation")),
                source=str(data.get("source", "")),
                license=str(data.get("license", "")),
                input_name=str(inp["name"]),
                width=int(inp["width"]),
                height=int(inp["height"]),
                layout=inp.get("layout", "NCHW"),
                color_order=inp.get("color_order", "RGB"),
                normalization=Normalization(
                    scale=float(norm.get("scale", 1.0 / 255.0)),
                    mean=_triple(norm.get("mean", (0.0, 0.0, 0.0))),
                    std=_triple(norm.get("std", (1.0, 1.0, 1.0))),
                ),
                output_name=str(out["name"]),
                output_kind=out["kind"],
                classes=tuple(str(c) for c in out.get("classes", ("background", "person"))),
                origin="card",
                extra={k: v for k, v in data.items() if k not in _KNOWN_KEYS},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{where}: missing or malformed field ({exc})") from None
        _validate(card, where)
        return card


_KNOWN_KEYS = {"name", "title", "task", "source", "license", "input", "output"}


def _triple(values: Any) -> tuple[float, float, float]:
    if isinstance(values, (int, float)):
        return (float(values),) * 3
    items = tuple(float(v) for v in values)
    if len(items) == 1:
        return items * 3
    if len(items) != 3:
        raise ValueError("mean/std need 1 or 3 values")
    return items  # type: ignore[return-value]


def _validate(card: ModelCard, where: str) -> None:
    if card.layout not in LAYOUTS:
        raise ModelError(f"{where}: layout must be one of {', '.join(LAYOUTS)}, not {card.layout!r}")
    if card.color_order not in COLOR_ORDERS:
        raise ModelError(f"{where}: color_order must be RGB or BGR, not {card.color_order!r}")
    if card.output_kind not in OUTPUT_KINDS:
        raise ModelError(f"{where}: output kind must be one of {', '.join(OUTPUT_KINDS)}, not {card.output_kind!r}")
    if card.width <= 0 or card.height <= 0:
        raise ModelError(f"{where}: input width and height must be positive")
    if any(s == 0 for s in card.normalization.std):
        raise ModelError(f"{where}: normalization std must not be zero")
    if card.is_binary and len(card.classes) != 2:
        raise ModelError(f"{where}: a {card.output_kind} output has two classes, the card lists {len(card.classes)}")


def card_path_for(model_path: Path) -> Path:
    return model_path.with_suffix(".json")


def read_card(path: Path) -> ModelCard:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read model card {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ModelError(f"model card {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ModelError(f"model card {path} must hold a JSON object")
    return ModelCard.from_json_dict(data, where=f"model card {path.name}")
