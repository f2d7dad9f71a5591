"""The teacher's own network as a student: MobileNets' resolution multiplier applied to the teacher.

The teacher's ONNX graph is rebuilt in PyTorch with its weights, then fine-tuned by
distillation at a lower input resolution. Why: a network trained from scratch on a few
hundred frames cannot learn what the teacher learned from its (much larger) data, while
the teacher's own features, shown smaller images and corrected by its full-resolution
answers, keep most of its accuracy for a fraction of the pixels (measured in the
report and in each card).

Only fully convolutional graphs built from the ops below can be rebuilt (the bundled
selfie models are); anything else is refused with a message naming the op.
"""

from __future__ import annotations

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn
from torch.nn import functional as F

from segview.distill.availability import DistillError

SUPPORTED_OPS = ("Conv", "ConvTranspose", "Relu", "HardSwish", "Sigmoid", "Add", "Mul", "GlobalAveragePool", "Resize")


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class GraphStudent(nn.Module):
    """Runs the teacher's nodes in order; its weights are trainable parameters.

    ``forward`` returns (logit, feature): the input of the final Sigmoid, and the named
    intermediate tensor used for hint / attention transfer.
    """

    def __init__(self, model: onnx.ModelProto, *, feature: str | None = None, name: str = "teacher") -> None:
        super().__init__()
        graph = model.graph
        unsupported = sorted({n.op_type for n in graph.node} - set(SUPPORTED_OPS))
        if unsupported:
            raise DistillError(f"the 'rescaled' student cannot rebuild {name}: it uses {', '.join(unsupported)}; choose --arch mobilenet or enet")
        if len(graph.input) - len({i.name for i in graph.initializer} & {i.name for i in graph.input}) != 1:
            raise DistillError(f"the 'rescaled' student needs a teacher with one input; {name} has several")
        last = next((n for n in graph.node if graph.output[0].name in n.output), None)
        if last is None or last.op_type != "Sigmoid":
            raise DistillError(f"the 'rescaled' student needs a teacher whose output is a Sigmoid; {name}'s is not")
        self._model = model  # kept to export by writing the trained weights back into it
        self.removed_gates: list[str] = []  # squeeze-excite gates a slim student was built without
        self.pointwise_before_upsampling = 0  # Resize -> 1x1 Conv pairs swapped (commute.py)
        self.input_name = graph.input[0].name
        self.logit_name = last.input[0]
        self.feature_name = feature
        self.nodes = [n for n in graph.node if n is not last]
        self.params = nn.ParameterDict()
        self.constants: dict[str, np.ndarray] = {}
        # Keys of a ParameterDict may not contain dots; map ONNX names to safe keys.
        self._key: dict[str, str] = {}
        weight_inputs = {n.input[i] for n in self.nodes if n.op_type in ("Conv", "ConvTranspose") for i in (1, 2) if len(n.input) > i}
        for init in graph.initializer:
            array = numpy_helper.to_array(init)
            if init.name in weight_inputs:
                key = f"p{len(self._key)}"
                self._key[init.name] = key
                self.params[key] = nn.Parameter(torch.from_numpy(array.astype(np.float32).copy()))
            else:
                self.constants[init.name] = array
        self._attributes = [_attrs(n) for n in self.nodes]
        with torch.no_grad():
            self.feature_channels = int(self.forward(torch.zeros(1, 3, 32, 32))[1].shape[1])

    def to_onnx(self, resolution: int) -> bytes:
        """The teacher's own graph with the trained weights, its input and output set to ``resolution``.

        Not torch.onnx: tracing turns the one-sided "SAME" padding into Pad plus shape
        arithmetic and GlobalAveragePool into ReduceMean, which measured 2.5x instead of
        7x faster than the teacher at 128 px. Writing the weights back keeps every node
        onnxruntime already runs well.
        """
        model = onnx.ModelProto()
        model.CopyFrom(self._model)
        by_name = {init.name: init for init in model.graph.initializer}
        for onnx_name, key in self._key.items():
            array = self.params[key].detach().cpu().numpy().astype(np.float32)
            by_name[onnx_name].CopyFrom(numpy_helper.from_array(array, onnx_name))
        for value in model.graph.input:
            dims = value.type.tensor_type.shape.dim
            if len(dims) == 4:
                dims[2].dim_value = resolution
                dims[3].dim_value = resolution
        del model.graph.value_info[:]  # shapes inferred for the old size would be wrong now
        # Outputs as the graph computes them: a student that skips the last stage makes a
        # smaller mask, and a wrong declaration costs a warning at every session start.
        for value in model.graph.output:
            for dim in value.type.tensor_type.shape.dim[2:]:
                dim.Clear()
        inferred = onnx.shape_inference.infer_shapes(model)
        for value, found in zip(model.graph.output, inferred.graph.output, strict=True):
            value.type.CopyFrom(found.type)
        del model.metadata_props[:]
        onnx.checker.check_model(model)
        return model.SerializeToString()

    def _weight(self, name: str) -> torch.Tensor | None:
        return self.params[self._key[name]] if name else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        values: dict[str, torch.Tensor] = {self.input_name: x}
        for node, attrs in zip(self.nodes, self._attributes, strict=True):
            ins = node.input
            op = node.op_type
            if op in ("Conv", "ConvTranspose"):
                weight = self._weight(ins[1])
                if weight is None:
                    raise DistillError(f"the 'rescaled' student cannot rebuild {node.name}: it has no weight")
                bias = self._weight(ins[2]) if len(ins) > 2 else None
                strides = tuple(attrs.get("strides", (1, 1)))
                dilations = tuple(attrs.get("dilations", (1, 1)))
                pads = attrs.get("pads", (0, 0, 0, 0))
                auto_pad = attrs.get("auto_pad", b"NOTSET")
                if auto_pad not in (b"NOTSET", "NOTSET"):
                    raise DistillError(f"the 'rescaled' student cannot rebuild auto_pad in {node.name}")
                source = values[ins[0]]
                if op == "Conv" and (pads[0] != pads[2] or pads[1] != pads[3]):
                    # TensorFlow's "SAME" at stride 2 pads one side only; onnxruntime folds the Pad back into the Conv.
                    source = F.pad(source, (pads[1], pads[3], pads[0], pads[2]))
                    pads = (0, 0, 0, 0)
                if op == "Conv":
                    y = F.conv2d(source, weight, bias, strides, (pads[0], pads[1]), dilations, attrs.get("group", 1))
                else:
                    y = F.conv_transpose2d(
                        values[ins[0]], weight, bias, strides, (pads[0], pads[1]), tuple(attrs.get("output_padding", (0, 0))), attrs.get("group", 1), dilations
                    )
            elif op == "Relu":
                y = F.relu(values[ins[0]])
            elif op == "HardSwish":
                y = F.hardswish(values[ins[0]])
            elif op == "Sigmoid":
                y = torch.sigmoid(values[ins[0]])
            elif op == "Add":
                y = values[ins[0]] + self._operand(values, ins[1])
            elif op == "Mul":
                y = values[ins[0]] * self._operand(values, ins[1])
            elif op == "GlobalAveragePool":
                y = values[ins[0]].mean(dim=(2, 3), keepdim=True)
            else:  # Resize, by constant scales: the graph stays resolution-agnostic
                scales = self.constants.get(ins[2]) if len(ins) > 2 and ins[2] else None
                if scales is None or attrs.get("mode", b"nearest") not in (b"linear", b"nearest"):
                    raise DistillError(f"the 'rescaled' student can rebuild Resize by constant scales only ({node.name})")
                mode = "bilinear" if attrs.get("mode") == b"linear" else "nearest"
                align = attrs.get("coordinate_transformation_mode", b"half_pixel") == b"align_corners"
                y = F.interpolate(
                    values[ins[0]], scale_factor=(float(scales[2]), float(scales[3])), mode=mode, align_corners=align if mode == "bilinear" else None
                )
            values[node.output[0]] = y
        feature = values[self.feature_name] if self.feature_name in values else values[self.logit_name]
        return values[self.logit_name], feature

    def _operand(self, values: dict[str, torch.Tensor], name: str) -> torch.Tensor:
        if name in values:
            return values[name]
        return torch.as_tensor(self.constants[name], dtype=torch.float32)


def build_graph_student(model: onnx.ModelProto, *, feature: str | None, name: str) -> GraphStudent:
    student = GraphStudent(model, feature=feature, name=name)
    return student
