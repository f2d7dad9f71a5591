"""What an ONNX graph holds, without running it (``segview inspect``): opsets, inputs and outputs,
op counts, parameters, multiply-adds and initializer bytes by dtype.

Multiply-adds use onnx's shape inference for output shapes; only the ops in :data:`MAC_OPS`
are counted (the ones that dominate convolutional segmenters), and a node whose shapes stay
unknown is named as not counted rather than guessed.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import numpy_helper

from segview.inference.inspect import graph_inputs

# Op type -> index of its weight input; MACs per output element = prod(weight dims but the first).
CONV_WEIGHT_INPUT = {"Conv": 1, "ConvInteger": 1, "QLinearConv": 3}
MATMUL_OPS = frozenset({"MatMul", "MatMulInteger", "QLinearMatMul", "Gemm"})
MAC_OPS = tuple(sorted([*CONV_WEIGHT_INPUT, "ConvTranspose", *MATMUL_OPS]))


@dataclass(frozen=True, slots=True)
class TensorInfo:
    name: str
    dtype: str
    shape: list[int | str | None]

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "dtype": self.dtype, "shape": self.shape}


@dataclass(slots=True)
class GraphSummary:
    opsets: dict[str, int]
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    op_counts: dict[str, int]
    parameters: int
    macs: int
    macs_by_op: dict[str, int]
    not_counted: list[str] = field(default_factory=list)
    bytes_by_dtype: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "opsets": self.opsets,
            "inputs": [t.as_dict() for t in self.inputs],
            "outputs": [t.as_dict() for t in self.outputs],
            "op_counts": self.op_counts,
            "nodes": sum(self.op_counts.values()),
            "parameters": self.parameters,
            "macs": self.macs,
            "macs_by_op": self.macs_by_op,
            "mac_ops_counted": list(MAC_OPS),
            "macs_not_counted": self.not_counted,
            "initializer_bytes_by_dtype": self.bytes_by_dtype,
        }


def dtype_name(elem_type: int) -> str:
    return onnx.TensorProto.DataType.Name(elem_type) if elem_type else "UNDEFINED"


def _tensor_info(value: onnx.ValueInfoProto) -> TensorInfo:
    tensor = value.type.tensor_type
    shape = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tensor.shape.dim]
    return TensorInfo(value.name, dtype_name(tensor.elem_type), shape)


def known_shapes(model: onnx.ModelProto) -> dict[str, list[int]]:
    """Tensor name -> fully known shape, after onnx shape inference (partial results kept)."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # an op shape inference does not know: keep what the file declares
        inferred = model
    graph = inferred.graph
    shapes = {t.name: list(t.dims) for t in graph.initializer}
    for value in [*graph.input, *graph.value_info, *graph.output]:
        dims = value.type.tensor_type.shape.dim
        if value.type.HasField("tensor_type") and value.type.tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in dims):
            shapes[value.name] = [d.dim_value for d in dims]
    return shapes


def node_macs(node: onnx.NodeProto, shapes: dict[str, list[int]]) -> int | None:
    """Multiply-adds of one node, or None when its shapes are unknown. Grouped and depthwise
    convolutions come out right because the weight holds in_channels/group per filter."""

    def shape(index: int) -> list[int] | None:
        return shapes.get(node.input[index]) if len(node.input) > index else None

    if node.op_type in CONV_WEIGHT_INPUT:
        weight, out = shape(CONV_WEIGHT_INPUT[node.op_type]), shapes.get(node.output[0])
        return None if weight is None or out is None else math.prod(out) * math.prod(weight[1:])
    if node.op_type == "ConvTranspose":
        # Each input element is scattered through out_channels/group x kernel weights.
        x, weight = shape(0), shape(1)
        return None if x is None or weight is None else math.prod(x) * math.prod(weight[1:])
    if node.op_type in MATMUL_OPS:
        a, out = shape(0), shapes.get(node.output[0])
        if a is None or out is None or not a:
            return None
        trans_a = any(attr.name == "transA" and attr.i for attr in node.attribute)
        inner = a[0] if node.op_type == "Gemm" and trans_a else a[-1]
        return math.prod(out) * inner
    return 0


def summarise_graph(model: onnx.ModelProto) -> GraphSummary:
    graph = model.graph
    shapes = known_shapes(model)
    macs_by_op: Counter[str] = Counter()
    not_counted = []
    for node in graph.node:
        macs = node_macs(node, shapes)
        if macs is None:
            not_counted.append(f"{node.name or node.output[0]} ({node.op_type}): shape unknown")
        elif macs:
            macs_by_op[node.op_type] += macs
    bytes_by_dtype: Counter[str] = Counter()
    for init in graph.initializer:
        bytes_by_dtype[dtype_name(init.data_type)] += numpy_helper.to_array(init).nbytes
    return GraphSummary(
        opsets={imp.domain or "ai.onnx": imp.version for imp in model.opset_import},
        inputs=[_tensor_info(v) for v in graph_inputs(model)],
        outputs=[_tensor_info(v) for v in graph.output],
        op_counts=dict(Counter(node.op_type for node in graph.node).most_common()),
        parameters=sum(int(np.prod(init.dims, dtype=np.int64)) for init in graph.initializer),
        macs=sum(macs_by_op.values()),
        macs_by_op=dict(macs_by_op.most_common()),
        not_counted=not_counted,
        bytes_by_dtype=dict(bytes_by_dtype.most_common()),
    )
