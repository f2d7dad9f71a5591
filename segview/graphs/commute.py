"""An exact graph rewrite: pointwise convolutions before upsampling.

Used by distillation's graph students and by the 'rewrite' compression step.

Why: a decoder that upsamples a wide tensor and then narrows it with a 1x1 convolution
(the selfie teacher upsamples 128 channels, then projects them to 24) moves far more
memory than it needs, and memory is what this kind of network is bound by. A 1x1
convolution acts on each pixel alone and a linear or nearest Resize mixes pixels with
weights that sum to one, so the two commute, bias included: projecting first and
upsampling the narrow result computes the same tensor (to float rounding) at a fraction
of the traffic.

Weights and their names are untouched, so checkpoints of students built before this
rewrite still load.
"""

from __future__ import annotations

import onnx
from onnx import numpy_helper


def swappable_pairs(model: onnx.ModelProto) -> list[tuple[onnx.NodeProto, onnx.NodeProto]]:
    """The (Resize, 1x1 Conv) pairs that can be swapped without changing any output."""
    graph = model.graph
    weights = {init.name: init for init in graph.initializer}
    outputs = {o.name for o in graph.output}
    pairs = []
    for resize in graph.node:
        if resize.op_type != "Resize" or not _scales_keep_channels(resize, weights) or _mode(resize) not in (b"linear", b"nearest"):
            continue
        readers = [n for n in graph.node if resize.output[0] in n.input]
        if len(readers) != 1 or resize.output[0] in outputs or readers[0].input[0] != resize.output[0] or not _is_pointwise(readers[0], weights):
            continue
        pairs.append((resize, readers[0]))
    return pairs


def pointwise_before_upsampling(model: onnx.ModelProto) -> int:
    """Rewrites ``model`` in place; returns how many Resize -> 1x1 Conv pairs were swapped."""
    graph = model.graph
    swapped = 0
    for resize, conv in swappable_pairs(model):
        index = list(graph.node).index(resize)
        narrow = f"{conv.output[0]}/before_upsampling"
        projected = onnx.NodeProto()
        projected.CopyFrom(conv)
        projected.input[0] = resize.input[0]
        projected.output[0] = narrow
        upsampled = onnx.NodeProto()
        upsampled.CopyFrom(resize)
        upsampled.input[0] = narrow
        upsampled.output[0] = conv.output[0]
        # The projection takes the Resize's place (its input is ready there) and the Resize
        # the convolution's (everything reading the result comes after it): still in order.
        graph.node[index].CopyFrom(projected)
        graph.node[list(graph.node).index(conv)].CopyFrom(upsampled)
        swapped += 1
    if swapped:
        del graph.value_info[:]  # the intermediate tensors changed shape
    return swapped


def _mode(node: onnx.NodeProto) -> bytes:
    for attribute in node.attribute:
        if attribute.name == "mode":
            return attribute.s
    return b"nearest"


def _scales_keep_channels(resize: onnx.NodeProto, weights: dict[str, onnx.TensorProto]) -> bool:
    """Resize by constant scales that leave batch and channels alone (sizes would name the
    channel count, which the swap changes)."""
    if len(resize.input) < 3 or not resize.input[2] or resize.input[2] not in weights:
        return False
    if len(resize.input) > 3 and resize.input[3]:
        return False
    scales = numpy_helper.to_array(weights[resize.input[2]])
    return scales.shape == (4,) and scales[0] == 1 and scales[1] == 1


def _is_pointwise(node: onnx.NodeProto, weights: dict[str, onnx.TensorProto]) -> bool:
    """A 1x1 convolution of stride 1, no padding, one group, that reads the Resize as its data."""
    if node.op_type != "Conv" or len(node.input) < 2 or node.input[1] not in weights:
        return False
    kernel = tuple(weights[node.input[1]].dims[2:])
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    return (
        kernel == (1, 1)
        and all(s == 1 for s in attrs.get("strides", (1, 1)))
        and not any(attrs.get("pads", (0, 0, 0, 0)))
        and attrs.get("group", 1) == 1
        and attrs.get("auto_pad", b"NOTSET") in (b"NOTSET", b"VALID")
    )
