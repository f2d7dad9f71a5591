"""The card segview would use for a model, set beside what its graph says (``segview inspect``).

Each disagreement is one sentence naming both sides: the declared input size against the graph
input's dims, the layout, and the output kind against the activation the graph ends in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import onnx

from segview.errors import ModelError
from segview.inference.card import ModelCard
from segview.inference.inspect import activation_op, describe_model, format_shape, graph_inputs, input_layout, output_kind_from_graph, tensor_dims


@dataclass(slots=True)
class CardCheck:
    card: ModelCard | None
    problem: str | None = None
    disagreements: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        card = None
        if self.card is not None:
            c = self.card
            card = {
                "name": c.name,
                "origin": c.origin,
                "input": c.input_name,
                "width": c.width,
                "height": c.height,
                "layout": c.layout,
                "output": c.output_name,
                "output_kind": c.output_kind,
                "classes": list(c.classes),
            }
        return {"card": card, "problem": self.problem, "disagreements": self.disagreements}


def disagreements(card: ModelCard, model: onnx.ModelProto) -> list[str]:
    found = []
    inputs = [i for i in graph_inputs(model) if i.name == card.input_name]
    dims = tensor_dims(inputs[0]) if inputs else []
    layout = input_layout(dims)
    if layout is not None and layout != card.layout:
        found.append(f"layout: the card says {card.layout}, the graph input {format_shape(dims)} is {layout}")
    if len(dims) == 4:
        height, width = (dims[2], dims[3]) if card.layout == "NCHW" else (dims[1], dims[2])
        if None in (height, width):
            found.append(f"input size: the graph input {format_shape(dims)} is dynamic; the card's {card.width}x{card.height} is what segview feeds")
        elif (width, height) != (card.width, card.height):
            found.append(f"input size: the card declares {card.width}x{card.height}, the graph input {format_shape(dims)} is {width}x{height}")
    channels = 1 if card.is_binary else len(card.classes)
    graph_kind = output_kind_from_graph(model, card.output_name, channels)
    if graph_kind != card.output_kind:
        op = activation_op(model, card.output_name) or "no op"
        found.append(f"output kind: the card says {card.output_kind}, the graph's output ends in {op} ({graph_kind})")
    return found


def check_card(path: Path, model: onnx.ModelProto) -> CardCheck:
    """The card (JSON beside the file, metadata, or inferred), or the reason there is none usable."""
    try:
        card = describe_model(path)
    except ModelError as exc:
        return CardCheck(None, problem=str(exc))
    return CardCheck(card, disagreements=disagreements(card, model))
