"""Reading an ONNX file and judging whether it is a usable segmentation model.

Everything here raises :class:`ModelError` with a reason a user understands;
nothing here runs the model.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError

from segview.errors import ModelError
from segview.inference.card import ModelCard, OutputKind, card_path_for, read_card

# A card can also travel inside the ONNX file, so compressed models stay self-describing.
METADATA_CARD_KEY = "segview.card"


def load_onnx(path: Path) -> onnx.ModelProto:
    """Parse the file, turning every way it can fail into one readable ModelError."""
    if not path.exists():
        raise ModelError(f"model file not found: {path}")
    if path.is_dir():
        raise ModelError(f"{path} is a folder, not a model file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror or exc}") from None
    if not data:
        raise ModelError(f"{path.name} is empty, not an ONNX model")
    try:
        model = onnx.load_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise ModelError(f"{path.name} is not a readable ONNX model (truncated or another format): {exc}") from None
    if not model.graph.node or not model.graph.output:
        raise ModelError(f"{path.name} is not a readable ONNX model (no graph inside; truncated or another format)")
    return model


def _dims(value_info: onnx.ValueInfoProto) -> list[int | None]:
    shape = value_info.type.tensor_type.shape
    return [d.dim_value if d.HasField("dim_value") else None for d in shape.dim]


def _graph_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    initializers = {init.name for init in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in initializers]


def card_from_metadata(model: onnx.ModelProto, *, where: str) -> ModelCard | None:
    for prop in model.metadata_props:
        if prop.key == METADATA_CARD_KEY:
            try:
                data = json.loads(prop.value)
            except json.JSONDecodeError as exc:
                raise ModelError(f"{where}: the card in its ONNX metadata is not valid JSON: {exc}") from None
            card = ModelCard.from_json_dict(data, where=f"{where} (metadata card)")
            return replace(card, origin="metadata")
    return None


def infer_card(model: onnx.ModelProto, *, name: str, where: str) -> ModelCard:
    """Build a card from the graph alone; refuse when the graph is ambiguous."""
    inputs = _graph_inputs(model)
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs) or "none"
        raise ModelError(f"{where}: a segmentation model takes exactly one image input; this one has {len(inputs)} ({names})")
    image_input = inputs[0]
    dims = _dims(image_input)
    if len(dims) != 4:
        raise ModelError(f"{where}: input {image_input.name!r} has shape {_fmt(dims)}; an image input is 4-D (N,C,H,W or N,H,W,C)")
    if dims[1] == 3 and dims[3] != 3:
        layout, height, width = "NCHW", dims[2], dims[3]
    elif dims[3] == 3 and dims[1] != 3:
        layout, height, width = "NHWC", dims[1], dims[2]
    else:
        raise ModelError(
            f"{where}: cannot tell the layout of input shape {_fmt(dims)}; add a model card (JSON beside the file)"
        )
    if not height or not width:
        raise ModelError(f"{where}: input size is dynamic {_fmt(dims)}; add a model card that gives width and height")
    output = model.graph.output[0]
    out_dims = _dims(output)
    channels = _output_channels(out_dims, layout, where)
    kind = _output_kind(model, output.name, channels)
    classes = ("background", "person") if channels == 1 else tuple(f"class {i}" for i in range(channels))
    return ModelCard(
        name=name,
        input_name=image_input.name,
        width=int(width),
        height=int(height),
        layout=layout,  # type: ignore[arg-type]
        output_name=output.name,
        output_kind=kind,
        classes=classes,
        origin="inferred",
    )


def _output_channels(out_dims: list[int | None], layout: str, where: str) -> int:
    if len(out_dims) == 3:
        return 1
    if len(out_dims) != 4:
        raise ModelError(f"{where}: its output has shape {_fmt(out_dims)}, which is not a mask (expected N,C,H,W or N,H,W,C)")
    channels = out_dims[1] if layout == "NCHW" else out_dims[3]
    spatial = out_dims[2:] if layout == "NCHW" else out_dims[1:3]
    if channels is None or any(s is not None and s < 2 for s in spatial):
        raise ModelError(f"{where}: its output has shape {_fmt(out_dims)}, which is not a mask (expected N,C,H,W or N,H,W,C)")
    return int(channels)


def _output_kind(model: onnx.ModelProto, output_name: str, channels: int) -> OutputKind:
    producer = next((n for n in model.graph.node if output_name in n.output), None)
    op = producer.op_type if producer is not None else ""
    if channels == 1:
        return "sigmoid" if op == "Sigmoid" else "logits"
    return "softmax" if op == "Softmax" else "class_logits"


def validate_against_graph(card: ModelCard, model: onnx.ModelProto, *, where: str) -> None:
    """A card must name tensors that exist, and the graph must still be single-input."""
    inputs = _graph_inputs(model)
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs)
        raise ModelError(f"{where}: a segmentation model takes exactly one image input; this one has {len(inputs)} ({names})")
    if inputs[0].name != card.input_name:
        raise ModelError(f"{where}: its card names input {card.input_name!r}, the graph's input is {inputs[0].name!r}")
    outputs = {o.name: o for o in model.graph.output}
    if card.output_name not in outputs:
        raise ModelError(f"{where}: its card names output {card.output_name!r}, which the graph does not have")
    out_dims = _dims(outputs[card.output_name])
    if len(out_dims) not in (3, 4):
        raise ModelError(f"{where}: output {card.output_name!r} has shape {_fmt(out_dims)}, which is not a mask")


def describe_model(path: Path) -> ModelCard:
    """The card for an ONNX file: its JSON card, else its metadata card, else one inferred from the graph."""
    model = load_onnx(path)
    where = path.name
    card_file = card_path_for(path)
    card = read_card(card_file) if card_file.exists() else card_from_metadata(model, where=where)
    if card is None:
        return infer_card(model, name=path.stem, where=where)
    validate_against_graph(card, model, where=where)
    return card


def _fmt(dims: list[int | None]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"
