"""Channel spaces: the groups of tensors that must lose the same channels when a graph is pruned structurally.

Channels are not independent: a residual Add, a depthwise convolution or a
squeeze-and-excite Mul ties the channels of several tensors together. Tensors
are grouped into *channel spaces* (union-find over those ties), and a space is
prunable only when every op touching it is understood: convolutions (their
weights and biases can be sliced), channel-wise ops (Relu, HardSwish, Sigmoid,
pooling, Resize with a channel scale of 1, BatchNormalization) and elementwise
Add/Mul. Anything else (Concat, Reshape, Transpose, graph inputs and outputs)
freezes the spaces it touches.

Pure graph analysis, used by the ``prune-channels`` compression step.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import onnx

from segview.graphs.graph import attribute, initializers, to_array

CHANNELWISE_UNARY = {
    "Relu",
    "HardSwish",
    "HardSigmoid",
    "Sigmoid",
    "Tanh",
    "Clip",
    "LeakyRelu",
    "Elu",
    "Selu",
    "Softplus",
    "Identity",
    "Dropout",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "Resize",
    "Upsample",
    "BatchNormalization",
    "Neg",
    "Abs",
}
ELEMENTWISE_BINARY = {"Add", "Sub", "Mul", "Div", "Max", "Min"}


@dataclass(slots=True)
class ChannelSpace:
    """Tensors that share one channel axis, and the weights that must be sliced along it."""

    tensors: set[str] = field(default_factory=set)
    frozen: bool = False
    # (node, role) with role in: conv_out, convt_out, depthwise, batchnorm, const:<initializer>:<axis>
    producers: list[tuple[onnx.NodeProto, str]] = field(default_factory=list)
    # (node, role) with role in: conv_in, convt_in
    consumers: list[tuple[onnx.NodeProto, str]] = field(default_factory=list)
    channels: int | None = None


class _UnionFind:
    """Union-find over tensor names."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, name: str) -> str:
        self.parent.setdefault(name, name)
        while self.parent[name] != name:
            self.parent[name] = self.parent[self.parent[name]]
            name = self.parent[name]
        return name

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


class _Ties:
    """What each node says about channels: which tensors share a channel axis, and each tensor's roles."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.inits = initializers(model)
        self.uf = _UnionFind()
        self.roles: list[tuple[str, str, onnx.NodeProto | None, str]] = []  # (tensor, kind: producer/consumer/freeze, node, role)
        self.uses: dict[str, int] = defaultdict(int)
        for node in model.graph.node:
            for name in node.input[1:]:
                if name in self.inits:
                    self.uses[name] += 1

    def freeze(self, *names: str) -> None:
        for n in names:
            if n and n not in self.inits:
                self.roles.append((n, "freeze", None, ""))

    def read(self, node: onnx.NodeProto) -> None:
        if not (self._convolution(node) or self._channelwise(node) or self._elementwise(node)):
            self.freeze(*(n for n in node.input if n and n not in self.inits), *node.output)

    def _convolution(self, node: onnx.NodeProto) -> bool:
        op = node.op_type
        shared_weight = any(self.uses[n] > 1 for n in node.input[1:] if n in self.inits)
        if op not in ("Conv", "ConvTranspose") or len(node.input) < 2 or node.input[1] not in self.inits or shared_weight:
            return False
        w = self.inits[node.input[1]]
        group = int(attribute(node, "group", 1))
        x, y = node.input[0], node.output[0]
        if op == "Conv" and group == 1:
            self.roles += [(x, "consumer", node, "conv_in"), (y, "producer", node, "conv_out")]
        elif op == "Conv" and group == w.dims[0] and w.dims[1] == 1:
            self.uf.union(x, y)
            self.roles.append((y, "producer", node, "depthwise"))
        elif op == "ConvTranspose" and group == 1:
            self.roles += [(x, "consumer", node, "convt_in"), (y, "producer", node, "convt_out")]
        else:
            self.freeze(x, y)
        return True

    def _channelwise(self, node: onnx.NodeProto) -> bool:
        data = [n for n in node.input if n and n not in self.inits]
        if node.op_type not in CHANNELWISE_UNARY or len(node.output) != 1 or data[:1] != [node.input[0]] or not _channel_preserving(node, self.inits):
            return False
        self.uf.union(node.input[0], node.output[0])
        if node.op_type == "BatchNormalization":
            self.roles.append((node.output[0], "producer", node, "batchnorm"))
        return True

    def _elementwise(self, node: onnx.NodeProto) -> bool:
        if node.op_type not in ELEMENTWISE_BINARY or len(node.input) != 2 or len(node.output) != 1:
            return False
        ok = True
        for name in node.input:
            if name in self.inits:
                axis = _channel_axis_of_constant(self.inits[name])
                if axis == -2:
                    ok = False
                elif axis >= 0:
                    self.roles.append((node.output[0], "producer", node, f"const:{name}:{axis}"))
            else:
                self.uf.union(name, node.output[0])
        if not ok:
            self.freeze(*node.input, *node.output)
        return True


def find_spaces(model: onnx.ModelProto) -> list[ChannelSpace]:
    """Group tensors into channel spaces; a space is frozen when any op touching it is not understood."""
    ties = _Ties(model)
    for node in model.graph.node:
        ties.read(node)
    ties.freeze(*(i.name for i in model.graph.input), *(o.name for o in model.graph.output))
    spaces: dict[str, ChannelSpace] = {}

    def space_of(name: str) -> ChannelSpace:
        return spaces.setdefault(ties.uf.find(name), ChannelSpace())

    for node in model.graph.node:
        for name in [*node.input, *node.output]:
            if name and name not in ties.inits:
                space_of(name).tensors.add(name)
    for tensor, kind, node, role in ties.roles:
        space = space_of(tensor)
        space.tensors.add(tensor)
        if kind == "freeze" or node is None:  # only a freeze names no node
            space.frozen = True
        elif kind == "producer":
            space.producers.append((node, role))
        else:
            space.consumers.append((node, role))
    for space in spaces.values():
        counts = {_channels_of(node, role, ties.inits) for node, role in space.producers + space.consumers}
        counts.discard(None)
        if len(counts) != 1:
            space.frozen = True
        else:
            space.channels = counts.pop()
    return list(spaces.values())


def _channels_of(node: onnx.NodeProto, role: str, inits: dict[str, onnx.TensorProto]) -> int | None:
    if role.startswith("const:"):
        _, name, axis = role.split(":")
        return int(inits[name].dims[int(axis)])
    if role == "batchnorm":
        return int(inits[node.input[1]].dims[0]) if node.input[1] in inits else None
    dims = inits[node.input[1]].dims
    return int({"conv_out": dims[0], "depthwise": dims[0], "convt_out": dims[1], "conv_in": dims[1], "convt_in": dims[0]}[role])


def _channel_preserving(node: onnx.NodeProto, inits: dict[str, onnx.TensorProto]) -> bool:
    if node.op_type in ("Resize", "Upsample"):
        # Resize(X, roi, scales, sizes): only a constant scale of 1 on the channel axis keeps channels.
        if len(node.input) > 3 and node.input[3]:
            return False
        scales_name = node.input[2] if node.op_type == "Resize" and len(node.input) > 2 else (node.input[1] if len(node.input) > 1 else "")
        if scales_name not in inits:
            return False
        scales = to_array(inits[scales_name])
        return scales.size >= 2 and float(scales[1]) == 1.0 and float(scales[0]) == 1.0
    if node.op_type == "BatchNormalization":
        return all(n in inits for n in node.input[1:5])
    if node.op_type == "Clip":
        return all(not n or n in inits for n in node.input[1:])
    return True


def _channel_axis_of_constant(init: onnx.TensorProto) -> int:
    """-1: broadcasts over channels (scalar-like); k >= 0: holds one value per channel on axis k; -2: not understood."""
    dims = list(init.dims)
    if all(d == 1 for d in dims):
        return -1
    # [C,1,1] broadcast against NCHW, or [1,C,1,1].
    if len(dims) == 3 and dims[1] == dims[2] == 1:
        return 0
    if len(dims) == 4 and dims[0] == 1 and dims[2] == dims[3] == 1:
        return 1
    return -2
