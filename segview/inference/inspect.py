"""Reading an ONNX file and judging whether it is a usable segmentation model.

Everything here raises :class:`ModelError` with a reason a user understands;
nothing here runs the model.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError

from segview.errors import ModelError
from segview.inference.card import (
    MAX_CLASSES,
    ModelCard,
    OutputKind,
    card_path_for,
    parse_card_text,
    read_card,
    read_regular_file,
    validate_card,
)

# A card can also travel inside the ONNX file, so compressed models stay self-describing.
METADATA_CARD_KEY = "segview.card"
# Protobuf cannot parse a message over 2 GiB; bigger models keep their weights in external data.
MAX_MODEL_BYTES = 2**31 - 1
# Ops that pass values through unchanged (reshaped, selected, resampled or cast): the
# output's kind is that of the op before them, e.g. Sigmoid -> Transpose in NHWC exports.
VALUE_PRESERVING_OPS = frozenset(
    {"Identity", "Dropout", "Cast", "Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Slice", "Gather", "Resize", "Upsample"}
)


def load_onnx(path: Path, *, external_data: bool = False) -> onnx.ModelProto:
    """Parse the file, turning every way it can fail into one readable ModelError.

    External data is always checked (it must lie in the model's folder); with
    ``external_data`` it is also read, from that folder whatever the current one is.
    """
    data = read_regular_file(path, what="model file", max_bytes=MAX_MODEL_BYTES)
    if not data:
        raise ModelError(f"{path.name} is empty, not an ONNX model")
    try:
        model = onnx.load_from_string(data)
    except (DecodeError, ValueError, RuntimeError, RecursionError) as exc:
        raise ModelError(f"{path.name} is not a readable ONNX model (truncated or another format): {exc}") from None
    if not model.graph.node or not model.graph.output:
        raise ModelError(f"{path.name} is not a readable ONNX model (no graph inside; truncated or another format)")
    check_external_data(model, path)
    if external_data:
        try:
            onnx.load_external_data_for_model(model, os.fspath(path.parent))
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot read the external data of {path.name}: {exc}") from None
    return model


def _all_tensors(graph: onnx.GraphProto):
    """Initializers and attribute tensors, subgraphs included: every tensor that may hold external data."""
    yield from graph.initializer
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            for sub in [attr.g] if attr.HasField("g") else list(attr.graphs):
                yield from _all_tensors(sub)


def check_external_data(model: onnx.ModelProto, path: Path) -> None:
    """External data must be a regular file inside the model's folder: never an absolute path or '..'."""
    folder = path.parent.resolve()
    for tensor in _all_tensors(model.graph):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        location = next((e.value for e in tensor.external_data if e.key == "location"), "")
        target = (folder / location).resolve()
        if not location or os.path.isabs(location) or ".." in Path(location).parts or not target.is_relative_to(folder):
            raise ModelError(
                f"{path.name}: tensor {tensor.name!r} keeps its data at {location!r}, outside the model's folder; segview reads external data only beside the model"
            )
        if not target.is_file():
            raise ModelError(f"{path.name}: tensor {tensor.name!r} keeps its data in {location!r}, which is missing or not a regular file")


def tensor_dims(value_info: onnx.ValueInfoProto) -> list[int | None]:
    """Fixed dims as ints, symbolic or unknown ones as None."""
    shape = value_info.type.tensor_type.shape
    return [d.dim_value if d.HasField("dim_value") else None for d in shape.dim]


def graph_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    """The graph's inputs that are not initializers: what a caller must feed."""
    initializers = {init.name for init in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in initializers]


def input_layout(dims: list[int | None]) -> str | None:
    """NCHW or NHWC, by the one axis of 1 and 3 that holds 3 colour channels; None when the dims say neither."""
    if len(dims) != 4:
        return None
    if dims[1] == 3 and dims[3] != 3:
        return "NCHW"
    if dims[3] == 3 and dims[1] != 3:
        return "NHWC"
    return None


def card_from_metadata(model: onnx.ModelProto, *, where: str) -> ModelCard | None:
    for prop in model.metadata_props:
        if prop.key == METADATA_CARD_KEY:
            card = parse_card_text(prop.value, where=f"{where} (metadata card)")
            return replace(card, origin="metadata")
    return None


def infer_card(model: onnx.ModelProto, *, name: str, where: str) -> ModelCard:
    """Build a card from the graph alone; refuse when the graph is ambiguous."""
    inputs = graph_inputs(model)
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs) or "none"
        raise ModelError(f"{where}: a segmentation model takes exactly one image input; this one has {len(inputs)} ({names})")
    image_input = inputs[0]
    dims = tensor_dims(image_input)
    if len(dims) != 4:
        raise ModelError(f"{where}: input {image_input.name!r} has shape {format_shape(dims)}; an image input is 4-D (N,C,H,W or N,H,W,C)")
    layout = input_layout(dims)
    if layout is None:
        raise ModelError(f"{where}: cannot tell the layout of input shape {format_shape(dims)}; add a model card (JSON beside the file)")
    height, width = (dims[2], dims[3]) if layout == "NCHW" else (dims[1], dims[2])
    if not height or not width:
        raise ModelError(f"{where}: input size is dynamic {format_shape(dims)}; add a model card that gives width and height")
    output = model.graph.output[0]
    out_dims = tensor_dims(output)
    channels = _output_channels(out_dims, layout, where)
    kind = output_kind_from_graph(model, output.name, channels)
    classes = ("background", "person") if channels == 1 else tuple(f"class {i}" for i in range(channels))
    card = ModelCard(
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
    validate_card(card, where)
    return card


def _output_channels(out_dims: list[int | None], layout: str, where: str) -> int:
    if len(out_dims) == 3:
        return 1
    if len(out_dims) != 4:
        raise ModelError(f"{where}: its output has shape {format_shape(out_dims)}, which is not a mask (expected N,C,H,W or N,H,W,C)")
    channels = out_dims[1] if layout == "NCHW" else out_dims[3]
    spatial = out_dims[2:] if layout == "NCHW" else out_dims[1:3]
    if channels is None or any(s is not None and s < 2 for s in spatial):
        raise ModelError(f"{where}: its output has shape {format_shape(out_dims)}, which is not a mask (expected N,C,H,W or N,H,W,C)")
    if not 1 <= channels <= MAX_CLASSES:
        raise ModelError(f"{where}: its output has shape {format_shape(out_dims)}: {channels} classes; segview takes 1 to {MAX_CLASSES}")
    return int(channels)


def output_kind_from_graph(model: onnx.ModelProto, output_name: str, channels: int) -> OutputKind:
    """The output kind the graph's last activation implies (what infer_card says)."""
    op = activation_op(model, output_name)
    if channels == 1:
        # A Softmax sliced down to one channel is a probability too.
        return "sigmoid" if op in ("Sigmoid", "Softmax") else "logits"
    return "softmax" if op == "Softmax" else "class_logits"


def activation_op(model: onnx.ModelProto, tensor: str) -> str:
    """The op that gives the tensor its values, looking back through value-preserving ops ('' if none)."""
    producers = {out: node for node in model.graph.node for out in node.output}
    seen = set()
    while tensor in producers and tensor not in seen:
        seen.add(tensor)
        node = producers[tensor]
        cubic = node.op_type == "Resize" and any(a.name == "mode" and a.s == b"cubic" for a in node.attribute)
        if node.op_type not in VALUE_PRESERVING_OPS or cubic or not node.input:
            return node.op_type
        tensor = node.input[0]
    return ""


def validate_against_graph(card: ModelCard, model: onnx.ModelProto, *, where: str) -> None:
    """A card must name tensors that exist, and the graph must still be single-input."""
    inputs = graph_inputs(model)
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs)
        raise ModelError(f"{where}: a segmentation model takes exactly one image input; this one has {len(inputs)} ({names})")
    if inputs[0].name != card.input_name:
        raise ModelError(f"{where}: its card names input {card.input_name!r}, the graph's input is {inputs[0].name!r}")
    outputs = {o.name: o for o in model.graph.output}
    if card.output_name not in outputs:
        raise ModelError(f"{where}: its card names output {card.output_name!r}, which the graph does not have")
    out_dims = tensor_dims(outputs[card.output_name])
    if len(out_dims) not in (3, 4):
        raise ModelError(f"{where}: output {card.output_name!r} has shape {format_shape(out_dims)}, which is not a mask")
    channels = 1 if card.is_binary else len(card.classes)
    if len(out_dims) == 4 and None not in out_dims and channels not in (out_dims[1], out_dims[3]):
        raise ModelError(
            f"{where}: its card expects {channels} output channel(s) ({card.output_kind}), the graph's output {card.output_name!r} is {format_shape(out_dims)}"
        )


def describe_model(path: Path) -> ModelCard:
    """The card for an ONNX file: its JSON card, else its metadata card, else one inferred from the graph."""
    model = load_onnx(path)
    where = path.name
    card_file = card_path_for(path)
    # lexists: a card that is a broken link or a loop is reported, not silently passed over.
    card = read_card(card_file) if os.path.lexists(card_file) else card_from_metadata(model, where=where)
    if card is None:
        return infer_card(model, name=path.stem, where=where)
    validate_against_graph(card, model, where=where)
    return card


def format_shape(dims) -> str:
    """Dims as text, "?" for an unknown one: [1, 3, ?, ?]."""
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"
