"""The teacher: any registered ONNX segmentation model, run through onnxruntime.

For hint and attention transfer the teacher's intermediate tensors are exposed
as extra ONNX outputs of an in-memory copy of its graph (the file is not touched).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from segview.errors import DistillError, ModelError, first_line
from segview.inference.card import ModelCard
from segview.inference.inspect import load_onnx
from segview.inference.postprocess import Postprocessor, foreground_probability
from segview.inference.preprocess import Preprocessor
from segview.inference.registry import ModelEntry, ModelRegistry
from segview.inference.session import cpu_session


@dataclass(frozen=True, slots=True)
class TeacherOutput:
    probability: np.ndarray  # (H, W) float32 person probability at the teacher's resolution
    feature: np.ndarray | None  # (C, h, w) the hint tensor, when one was asked for


def resolve_teacher(reference: str, registry: ModelRegistry | None = None) -> ModelEntry:
    """A registered segmentation model; refuses anything that has no person / foreground class."""
    try:
        entry = (registry or ModelRegistry()).resolve(reference)
    except ModelError as exc:
        raise DistillError(f"teacher {reference!r} is not a usable segmentation model: {exc}") from None
    card = entry.card
    if not card.is_binary and "person" not in [c.lower() for c in card.classes] and len(card.classes) < 2:
        raise DistillError(f"teacher {entry.name} has no person class to distil")
    return entry


def deepest_feature(model: onnx.ModelProto, input_size: tuple[int, int]) -> str | None:
    """The last 4-D tensor at the lowest resolution: the end of the encoder, where a
    segmentation network's knowledge of 'what is where' is most condensed."""
    inferred = onnx.shape_inference.infer_shapes(model)
    best: tuple[int, int, str] | None = None  # (area, -order, name)
    order = {out: i for i, node in enumerate(inferred.graph.node) for out in node.output}
    for info in inferred.graph.value_info:
        dims = [d.dim_value for d in info.type.tensor_type.shape.dim]
        if len(dims) != 4 or not all(dims) or dims[1] < 4:
            continue
        area = dims[2] * dims[3]
        if area >= input_size[0] * input_size[1]:
            continue
        key = (area, -order.get(info.name, 0), info.name)
        if best is None or key < best:
            best = key
    return best[2] if best else None


class Teacher:
    """Runs one frame at a time (teachers often have a static batch of 1). Thread-safe."""

    def __init__(self, entry: ModelEntry, *, hint_layer: str | None = None, want_feature: bool = False, threads: int = 1) -> None:
        self.entry = entry
        self.card: ModelCard = entry.card
        self.name = entry.name
        model = load_onnx(entry.path)
        self.feature_name: str | None = None
        if want_feature:
            # A teacher without an encoder (one convolution, say) simply teaches by its output alone.
            self.feature_name = hint_layer or deepest_feature(model, (self.card.height, self.card.width))
        if self.feature_name is not None:
            known = {out for node in model.graph.node for out in node.output}
            if self.feature_name not in known:
                raise DistillError(f"teacher {self.name} has no tensor named {self.feature_name!r}")
            if self.feature_name not in {o.name for o in model.graph.output}:
                model.graph.output.append(onnx.helper.make_empty_tensor_value_info(self.feature_name))
        try:
            self._session = cpu_session(model.SerializeToString(), threads=threads)
        except Exception as exc:  # onnxruntime raises several unrelated types
            raise DistillError(f"onnxruntime cannot load teacher {self.name}: {first_line(exc)}") from None
        self._outputs = [self.card.output_name] + ([self.feature_name] if self.feature_name else [])
        self.preprocess = Preprocessor(self.card)
        self._post = Postprocessor(self.card)
        self.sha256 = hashlib.sha256(Path(entry.path).read_bytes()).hexdigest()

    def __call__(self, image: np.ndarray) -> TeacherOutput:
        """BGR uint8 image (any size) -> person probability at teacher resolution."""
        try:
            outputs = self._session.run(self._outputs, {self.card.input_name: self.preprocess(image)})
        except Exception as exc:
            raise DistillError(f"teacher {self.name} failed while running: {first_line(exc)}") from None
        prob = foreground_probability(self._post.scores(outputs[0]), self.card)
        feature = None
        if self.feature_name is not None:
            feature = np.asarray(outputs[1], dtype=np.float32)
            if feature.ndim != 4:
                raise DistillError(f"teacher tensor {self.feature_name!r} is not a 4-D feature map; choose another --hint-layer")
            if self.card.layout == "NHWC" and feature.shape[1] > feature.shape[3]:
                feature = feature.transpose(0, 3, 1, 2)
            feature = feature[0]
        return TeacherOutput(np.ascontiguousarray(prob, dtype=np.float32), feature)
