"""Reading onnxruntime's profile file: Chrome trace JSON, one ``model_run`` span per run
(category "Session") and one ``<node>_kernel_time`` span per node run (category "Node",
with ``args.op_name`` and ``args.input_type_shape``).

Node names in the file are those of the *optimised* graph: onnxruntime appends ``_nchwc``
or ``_token_N`` to nodes it rewrites, names a fused Conv+Relu after the Relu, and names
unnamed nodes ``<OpType>_<index>``. :func:`graph_origin` maps such a name back to the node
of the ONNX file it came from, so two variants of one model can be compared node by node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import onnx

_KERNEL_SUFFIX = "_kernel_time"
# Rewrites onnxruntime makes to a node's name while optimising the graph.
_REWRITE = re.compile(r"(_nchwc|_token_\d+)+$")
# Names onnxruntime.quantization gives the nodes that replace a float node (or quantize its output).
_QUANTIZER = re.compile(r"(_quant\w*|_QuantizeLinear|_DequantizeLinear|_output_quantized_cast|_bias_add)$")
# Ops that do one node's work in a quantized graph: QLinearConv, ConvInteger, FusedConv -> Conv.
_FAMILY = re.compile(r"^(QLinear|Fused|Dynamic)|(Integer|Nhwc)$")
# onnxruntime's names for a float op's kernels: its NCHWc Resize is "Upsample".
_ALIASES = {"Upsample": "Resize"}
_PLUMBING = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "ReorderInput", "ReorderOutput", "Transpose"}


@dataclass
class NodeRun:
    """One node's time in one run (summed if the node ran more than once in it)."""

    op_type: str
    input_shapes: tuple[str, ...]
    duration_us: float = 0.0


@dataclass
class RunTimes:
    """The node times of one ``session.run``, in the order the nodes ran."""

    start_us: float
    end_us: float
    nodes: dict[str, NodeRun] = field(default_factory=dict)


def runs_from_events(events: list[dict]) -> list[RunTimes]:
    """Per-run node times, runs in order; a node span belongs to the run whose span holds it."""
    runs = sorted(
        (RunTimes(float(e["ts"]), float(e["ts"]) + float(e.get("dur", 0))) for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"),
        key=lambda r: r.start_us,
    )
    nodes = sorted((e for e in events if e.get("cat") == "Node" and str(e.get("name", "")).endswith(_KERNEL_SUFFIX)), key=lambda e: float(e["ts"]))
    index = 0
    for event in nodes:
        ts = float(event["ts"])
        while index < len(runs) and ts > runs[index].end_us:
            index += 1
        if index == len(runs):
            break
        if ts < runs[index].start_us:
            continue  # not inside any run (initialisation work)
        _add(runs[index], event)
    return runs


def _add(run: RunTimes, event: dict) -> None:
    args = event.get("args", {})
    name = event["name"][: -len(_KERNEL_SUFFIX)]
    node = run.nodes.get(name)
    if node is None:
        node = run.nodes[name] = NodeRun(str(args.get("op_name", "?")), _shapes(args.get("input_type_shape", [])))
    node.duration_us += float(event.get("dur", 0))


def _shapes(described: list) -> tuple[str, ...]:
    """[{"float": [1, 3, 256, 256]}, ...] -> ("float[1,3,256,256]", ...)."""
    out = []
    for item in described:
        for dtype, dims in item.items() if isinstance(item, dict) else []:
            out.append(f"{dtype}[{','.join(str(d) for d in dims)}]")
    return tuple(out)


def op_family(op_type: str) -> str:
    """The float op a kernel stands for: QLinearConv, ConvInteger and FusedConv are all Conv."""
    return _ALIASES.get(op_type) or _FAMILY.sub("", op_type) or op_type


class GraphIndex:
    """The ONNX file's nodes by the names onnxruntime gives them, and who produces each tensor."""

    def __init__(self, path: Path) -> None:
        model = onnx.load(str(path), load_external_data=False)
        self.nodes: dict[str, onnx.NodeProto] = {}
        self.producer: dict[str, str] = {}
        for i, node in enumerate(model.graph.node):
            name = node.name or f"{node.op_type}_{i}"  # onnxruntime's name for an unnamed node
            self.nodes[name] = node
            for output in node.output:
                self.producer[output] = name

    def origin(self, profiled_name: str, op_type: str) -> str:
        """The float node a profiled kernel did the work of, by name ("" when onnxruntime made the node up).

        A quantizer's replacement (``conv_quant``, a ConvInteger) answers to the float node's name;
        its plumbing (QuantizeLinear, Cast) keeps its own, so the diff shows it as the int8 model's extra.
        """
        name = _REWRITE.sub("", profiled_name)
        # A fused node may carry its output tensor's name rather than a node's.
        name = name if name in self.nodes else self.producer.get(name, "")
        if not name:
            return ""
        family = op_family(op_type)
        if family in _PLUMBING:
            return name
        return _QUANTIZER.sub("", self._fused_into(name, family))

    def _fused_into(self, name: str, family: str) -> str:
        """A Conv fused with the Relu after it carries the Relu's name: walk back to the Conv."""
        if op_family(self.nodes[name].op_type) == family:
            return name
        current = name
        for _ in range(4):
            node = self.nodes[current]
            if not node.input or node.input[0] not in self.producer:
                break
            current = self.producer[node.input[0]]
            if op_family(self.nodes[current].op_type) == family:
                return current
        return name
