"""Pruning and clustering seen in a graph's weights (``segview inspect``).

Weights are the values feeding a Conv/MatMul/Gemm weight input, folded from initializers
through DequantizeLinear (a QDQ model's int8 tensor is the one judged), Cast, reshaping ops
and a clustered layer's codebook Gather and scale Mul.
Sparsity is the share of exact zeros in the stored values; clustering is the number of
distinct values in each output channel (a k-means clustered layer has at most k).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

from segview.inference.graph_summary import CONV_WEIGHT_INPUT, MATMUL_OPS

# Ops a weight passes through on its way to the op that uses it.
_WEIGHT_PATH_OPS = frozenset({"DequantizeLinear", "Cast", "Identity", "Reshape"})
# "uses <= N distinct values per channel" is reported for this N (a 4-bit palette).
CLUSTER_LIMIT = 16


@dataclass(frozen=True, slots=True)
class WeightStats:
    name: str
    op_type: str
    elements: int
    zeros: int
    distinct: int
    max_distinct_per_channel: int
    channel_size: int  # values in one output channel: a 3x3 depthwise filter has 9, so at most 9 distinct

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "op_type": self.op_type,
            "elements": self.elements,
            "zeros": self.zeros,
            "sparsity": round(self.zeros / self.elements, 4) if self.elements else 0.0,
            "distinct_values": self.distinct,
            "max_distinct_per_channel": self.max_distinct_per_channel,
            "values_per_channel": self.channel_size,
        }

    @property
    def can_show_clustering(self) -> bool:
        """A channel of <= CLUSTER_LIMIT values has few distinct ones whether clustered or not."""
        return self.channel_size > CLUSTER_LIMIT

    @property
    def clustered(self) -> bool:
        return self.can_show_clustering and self.max_distinct_per_channel <= CLUSTER_LIMIT


def _weight_uses(graph: onnx.GraphProto) -> list[tuple[str, str, int]]:
    """(tensor, op type, channel axis) for each weight input of a conv or matmul node."""
    uses = []
    for node in graph.node:
        if node.op_type in CONV_WEIGHT_INPUT:
            index, axis = CONV_WEIGHT_INPUT[node.op_type], 0
        elif node.op_type == "ConvTranspose":
            index, axis = 1, 1
        elif node.op_type in MATMUL_OPS:
            trans_b = any(a.name == "transB" and a.i for a in node.attribute)
            index, axis = (3 if node.op_type == "QLinearMatMul" else 1), (0 if trans_b else -1)
        else:
            continue
        if len(node.input) > index:
            uses.append((node.input[index], node.op_type, axis))
    return uses


def _fold(tensor: str, initializers: dict[str, np.ndarray], producers: dict[str, onnx.NodeProto], depth: int = 0) -> np.ndarray | None:
    """The weight's values from its initializers, through the few ops compression leaves in front of
    a weight: a codebook Gather times a per-channel scale (clustering), or a DequantizeLinear, whose
    stored integers are the ones judged (their zeros are the quantized weight's zeros with a zero point of 0)."""
    if tensor in initializers:
        return initializers[tensor]
    node = producers.get(tensor)
    if node is None or depth > 8 or not node.input:
        return None
    fold = lambda name: _fold(name, initializers, producers, depth + 1)  # noqa: E731
    if node.op_type in _WEIGHT_PATH_OPS:
        return fold(node.input[0])
    if node.op_type in ("Mul", "Gather") and len(node.input) == 2:
        a, b = fold(node.input[0]), fold(node.input[1])
        if a is None or b is None:
            return None
        if node.op_type == "Mul":
            return a * b
        axis = next((attr.i for attr in node.attribute if attr.name == "axis"), 0)
        return np.take(a, b.astype(np.int64), axis=axis)
    return None


def distinct_per_channel(values: np.ndarray, axis: int) -> int:
    """The largest number of distinct values in any one channel along ``axis`` (sorted rows, counted steps)."""
    rows = np.moveaxis(values, axis, 0).reshape(values.shape[axis], -1) if values.ndim > 1 else values.reshape(1, -1)
    ordered = np.sort(rows, axis=1)
    return int((np.diff(ordered, axis=1) != 0).sum(axis=1).max() + 1) if ordered.size else 0


def weight_stats(model: onnx.ModelProto) -> list[WeightStats]:
    graph = model.graph
    initializers = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    stats, done = [], set()
    for tensor, op_type, axis in _weight_uses(graph):
        values = None if tensor in done else _fold(tensor, initializers, producers)
        done.add(tensor)
        if values is None or values.size == 0:
            continue
        stored = tensor
        channel_size = values.size // values.shape[axis] if values.ndim > 1 else values.size
        zeros = int(np.count_nonzero(values == 0))
        stats.append(WeightStats(stored, op_type, int(values.size), zeros, int(np.unique(values).size), distinct_per_channel(values, axis), channel_size))
    return stats


def weight_lines(stats: list[WeightStats]) -> list[str]:
    """Two sentences a user reads: how sparse the weights are, how many look clustered."""
    if not stats:
        return ["weights: no Conv/MatMul/Gemm weight initializers found"]
    elements = sum(s.elements for s in stats)
    zeros = sum(s.zeros for s in stats)
    judged = [s for s in stats if s.can_show_clustering]
    clustered = sum(1 for s in judged if s.clustered)
    densest = max(stats, key=lambda s: s.zeros / s.elements)
    return [
        f"sparsity: {zeros / elements:.1%} of {elements:,} weight values are exact zeros (most: {densest.name} {densest.zeros / densest.elements:.1%})",
        f"clustering: {clustered} of {len(judged)} weight tensors use <={CLUSTER_LIMIT} distinct values per channel"
        f" ({len(stats) - len(judged)} with <={CLUSTER_LIMIT} values per channel not judged)",
    ]
