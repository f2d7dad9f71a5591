"""Small ONNX graph helpers the compression steps and distillation share: lookups, copies, sizes, and running a graph on frames."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterable, Sequence

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

from segview.errors import CompressionError, first_line
from segview.inference.card import ModelCard
from segview.inference.postprocess import Postprocessor
from segview.inference.session import cpu_session
from segview.metrics.iou import binary_iou

FLOAT_TYPES = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE)
# Ops whose second input is a weight tensor laid out (out, in, k...) or (in, out, k...).
WEIGHTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")


def copy_model(model: onnx.ModelProto) -> onnx.ModelProto:
    clone = onnx.ModelProto()
    clone.CopyFrom(model)
    return clone


def model_bytes(model: onnx.ModelProto) -> bytes:
    return model.SerializeToString()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def zip_size(data: bytes, name: str = "model.onnx") -> int:
    """Bytes of a deflate zip holding the file alone: what the thesis reports as the compressed size."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr(name, data)
    return len(buffer.getvalue())


def initializers(model: onnx.ModelProto) -> dict[str, onnx.TensorProto]:
    return {init.name: init for init in model.graph.initializer}


def consumers(model: onnx.ModelProto) -> dict[str, list[onnx.NodeProto]]:
    table: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for name in node.input:
            if name:
                table.setdefault(name, []).append(node)
    return table


def producers(model: onnx.ModelProto) -> dict[str, onnx.NodeProto]:
    return {out: node for node in model.graph.node for out in node.output}


def attribute(node: onnx.NodeProto, name: str, default=None):
    for attr in node.attribute:
        if attr.name == name:
            return onnx.helper.get_attribute_value(attr)
    return default


def set_attribute(node: onnx.NodeProto, name: str, value) -> None:
    for i, attr in enumerate(node.attribute):
        if attr.name == name:
            del node.attribute[i]
            break
    node.attribute.append(onnx.helper.make_attribute(name, value))


def weight_nodes(model: onnx.ModelProto, op_types: Sequence[str] = WEIGHTED_OPS) -> list[tuple[onnx.NodeProto, onnx.TensorProto]]:
    """(node, weight initializer) for each weighted node whose weight is a float initializer of rank >= 2."""
    inits = initializers(model)
    found = []
    for node in model.graph.node:
        if node.op_type not in op_types or len(node.input) < 2:
            continue
        init = inits.get(node.input[1])
        if init is not None and init.data_type in FLOAT_TYPES and len(init.dims) >= 2:
            found.append((node, init))
    return found


def require_float_weights(model: onnx.ModelProto, step: str) -> None:
    if not weight_nodes(model):
        raise CompressionError(
            f"step {step!r} needs a float model with Conv/Gemm/MatMul weights stored as initializers; "
            "this one has none (already quantized or compressed? put this step earlier in the chain)"
        )


def replace_initializer(model: onnx.ModelProto, name: str, array: np.ndarray) -> None:
    for i, init in enumerate(model.graph.initializer):
        if init.name == name:
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(array, name))
            return
    raise KeyError(name)


def to_array(init: onnx.TensorProto) -> np.ndarray:
    return numpy_helper.to_array(init)


def input_name(model: onnx.ModelProto) -> str:
    inits = {i.name for i in model.graph.initializer}
    return next(i.name for i in model.graph.input if i.name not in inits)


def session(model: onnx.ModelProto | bytes, *, threads: int | None = 1, optimize: bool = True) -> ort.InferenceSession:
    """An onnxruntime session on CPU; a graph onnxruntime refuses becomes a CompressionError."""
    data = model if isinstance(model, bytes) else model_bytes(model)
    try:
        return cpu_session(data, threads=threads, optimize=optimize)
    except Exception as exc:  # onnxruntime raises several unrelated types for bad graphs
        text = first_line(exc)
        raise CompressionError(f"onnxruntime cannot run the result: {text}") from None


def run_outputs(sess: ort.InferenceSession, tensors: Iterable[np.ndarray], output: str | None = None) -> list[np.ndarray]:
    name = sess.get_inputs()[0].name
    outputs = [output] if output else None
    return [sess.run(outputs, {name: t})[0] for t in tensors]


def activation_means(model: onnx.ModelProto, tensor_names: Sequence[str], tensors: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Mean of each named tensor over the frames and every axis but the channel axis (1)."""
    wanted = [n for n in dict.fromkeys(tensor_names)]
    if not wanted or not tensors:
        return {}
    probe = copy_model(model)
    known_outputs = {o.name for o in probe.graph.output}
    for name in wanted:
        if name not in known_outputs:
            probe.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    sess = session(probe, optimize=False)
    in_name = sess.get_inputs()[0].name
    sums: dict[str, np.ndarray] = {}
    for t in tensors:
        values = sess.run(wanted, {in_name: t})
        for name, v in zip(wanted, values, strict=True):
            v = np.asarray(v, dtype=np.float64)
            axes = tuple(i for i in range(v.ndim) if i != 1) if v.ndim >= 2 else ()
            m = v.mean(axis=axes) if axes else v
            sums[name] = sums.get(name, 0) + m
    return {k: (v / len(tensors)).astype(np.float32) for k, v in sums.items()}


def foreground_mask(output: np.ndarray, card: ModelCard) -> np.ndarray:
    """The boolean person (foreground) mask of one raw output, at model resolution."""
    scores = Postprocessor(card).scores(output)
    if card.output_kind == "sigmoid":
        return scores > 0.5
    if card.output_kind == "logits":
        return scores > 0.0
    return scores.argmax(axis=-1) == card.foreground_class


def mask_disagreement(reference: Sequence[np.ndarray], candidate: Sequence[np.ndarray], card: ModelCard) -> float:
    """1 - mean IoU of the foreground masks of two models' raw outputs: 0 means identical masks."""
    ious = []
    for r, c in zip(reference, candidate, strict=True):
        ious.append(binary_iou(foreground_mask(c, card), foreground_mask(r, card)))
    return float(1.0 - np.mean(ious)) if ious else 0.0


def strip_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """Drop intermediate shape annotations (stale after channels change) and infer them again."""
    del model.graph.value_info[:]
    try:
        return onnx.shape_inference.infer_shapes(model)
    except Exception:  # shape inference is a nicety; onnxruntime infers shapes itself
        return model


def opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
