"""Bias correction: move the mean error a weight change causes into the layer's bias.

Changing W to W' shifts a layer's output by (W - W') x. Its mean over real
frames is (W - W') E[x], which the bias can absorb (Nagel et al., "Data-free
quantization", 2019). E[x] per input channel is measured on calibration frames.
Border pixels see zero padding instead of E[x], so the correction is exact only
in the interior; that is where nearly all pixels are.
"""

from __future__ import annotations

import numpy as np
import onnx

from segview.compress import graph

# Ops through which a layer's output reaches the graph output unchanged in meaning (a threshold follows).
_PASS_THROUGH = {"Sigmoid", "Softmax", "Relu", "Identity", "Resize", "Upsample", "Transpose", "Reshape", "Squeeze", "Unsqueeze"}


def correctable(node: onnx.NodeProto, model: onnx.ModelProto | None = None) -> bool:
    """Conv and ConvTranspose, except a layer whose output goes straight to a graph output.

    There the mask is a threshold of the output, and what matters is the error at the boundary
    pixels, not the mean over the frame that background pixels dominate (on selfie-general,
    correcting the last layer cost 5 IoU points after clustering).
    """
    if node.op_type not in ("Conv", "ConvTranspose"):
        return False
    return model is None or not feeds_output(model, node.output[0])


def feeds_output(model: onnx.ModelProto, tensor: str) -> bool:
    outputs = {o.name for o in model.graph.output}
    users = graph.consumers(model)
    frontier = [tensor]
    seen = set()
    while frontier:
        name = frontier.pop()
        if name in outputs:
            return True
        if name in seen:
            continue
        seen.add(name)
        for node in users.get(name, []):
            if node.op_type in _PASS_THROUGH:
                frontier.extend(node.output)
    return False


def bias_shift(node: onnx.NodeProto, original: np.ndarray, changed: np.ndarray, input_mean: np.ndarray) -> np.ndarray | None:
    """The per-output-channel amount to add to the bias, or None when the node's input mean does not fit its weight."""
    delta = original.astype(np.float64) - changed.astype(np.float64)
    group = int(graph.attribute(node, "group", 1))
    mean = np.asarray(input_mean, dtype=np.float64).ravel()
    if node.op_type == "Conv":
        out_channels, in_per_group = delta.shape[:2]
        if mean.size != in_per_group * group:
            return None
        per_out_group = out_channels // group
        shift = np.empty(out_channels)
        for g in range(group):
            rows = slice(g * per_out_group, (g + 1) * per_out_group)
            cols = mean[g * in_per_group : (g + 1) * in_per_group]
            shift[rows] = delta[rows].reshape(per_out_group, in_per_group, -1).sum(axis=2) @ cols
        return shift.astype(np.float32)
    if node.op_type == "ConvTranspose" and group == 1:
        in_channels, out_channels = delta.shape[:2]
        if mean.size != in_channels:
            return None
        strides = graph.attribute(node, "strides", [1] * (delta.ndim - 2))
        # Each output pixel sees (kernel taps / stride) taps on average.
        taps = delta.reshape(in_channels, out_channels, -1).sum(axis=2) / float(np.prod(strides))
        return (mean @ taps).astype(np.float32)
    return None


def apply_bias_shift(model: onnx.ModelProto, node: onnx.NodeProto, shift: np.ndarray) -> None:
    """Add ``shift`` to the node's bias, creating the bias input when the node has none."""
    inits = graph.initializers(model)
    if len(node.input) > 2 and node.input[2]:
        bias_name = node.input[2]
        bias = graph.to_array(inits[bias_name])
        graph.replace_initializer(model, bias_name, (bias.astype(np.float32) + shift).astype(bias.dtype))
        return
    weight = inits[node.input[1]]
    bias_name = f"{node.input[1]}__bias"
    dtype = np.float16 if weight.data_type == onnx.TensorProto.FLOAT16 else np.float32
    model.graph.initializer.append(onnx.numpy_helper.from_array(shift.astype(dtype), bias_name))
    while len(node.input) < 2:
        node.input.append("")
    if len(node.input) == 2:
        node.input.append(bias_name)
    else:
        node.input[2] = bias_name
