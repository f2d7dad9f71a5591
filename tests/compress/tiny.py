"""A tiny segmentation network built with onnx.helper: the shapes of a real one (stem conv, depthwise,
residual Add, squeeze-excite Mul, HardSwish, a 1x1 head and a sigmoid) at 32x32, so every step has
something to do in milliseconds."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import factories

SIZE = 32


def tiny_segmenter(path: Path, *, seed: int = 0, dead_channels: int = 0, name: str = "tiny") -> Path:
    """``dead_channels``: that many channels of the main channel group (stem, depthwise, excite, residual: one group,
    tied by the depthwise conv, the Mul and the Add) carry only zeros, so pruning them changes nothing."""
    rng = np.random.default_rng(seed)

    def w(*shape, scale=0.4):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    inits = {
        "stem/w": w(16, 3, 3, 3),
        "stem/b": w(16, scale=0.1),
        "dw/w": w(16, 1, 3, 3),
        "dw/b": w(16, scale=0.1),
        "pw/w": w(16, 16, 1, 1, scale=0.25),
        "pw/b": w(16, scale=0.1),
        "se1/w": w(8, 16, 1, 1),
        "se1/b": w(8, scale=0.1),
        "se2/w": w(16, 8, 1, 1),
        "se2/b": w(16, scale=0.1),
        "head/w": w(1, 16, 1, 1, scale=0.5),
        "head/b": np.zeros(1, np.float32),
    }
    if dead_channels:
        for name in ("stem/w", "stem/b", "dw/w", "dw/b", "se2/w", "se2/b", "pw/w", "pw/b"):
            inits[name][-dead_channels:] = 0
    nodes = [
        helper.make_node("Conv", ["input", "stem/w", "stem/b"], ["stem"], name="stem", pads=[1, 1, 1, 1]),
        helper.make_node("HardSwish", ["stem"], ["stem_act"], name="stem_act"),
        helper.make_node("Conv", ["stem_act", "dw/w", "dw/b"], ["dw"], name="dw", group=16, pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["dw"], ["dw_act"], name="dw_act"),
        helper.make_node("GlobalAveragePool", ["dw_act"], ["pool"], name="pool"),
        helper.make_node("Conv", ["pool", "se1/w", "se1/b"], ["se1"], name="se1"),
        helper.make_node("Relu", ["se1"], ["se1_act"], name="se1_act"),
        helper.make_node("Conv", ["se1_act", "se2/w", "se2/b"], ["se2"], name="se2"),
        helper.make_node("Sigmoid", ["se2"], ["gate"], name="gate"),
        helper.make_node("Mul", ["dw_act", "gate"], ["excited"], name="excite"),
        helper.make_node("Conv", ["excited", "pw/w", "pw/b"], ["pw"], name="pw"),
        helper.make_node("Add", ["pw", "stem_act"], ["residual"], name="residual"),
        helper.make_node("Conv", ["residual", "head/w", "head/b"], ["logit"], name="head"),
        helper.make_node("Sigmoid", ["logit"], ["prob"], name="prob"),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, 1, SIZE, SIZE])],
        [numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    # Centre the head on typical frames, so about half of each mask is "person".
    logits = _run(model, [_tensor(f) for f in frames(8, seed=seed + 1)], "logit")
    model.graph.initializer[-1].CopyFrom(numpy_helper.from_array(np.array([-np.median(logits)], np.float32), "head/b"))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    factories.write_card(path, name=name)
    return path


def frames(count: int, *, seed: int = 0, size: int = 48) -> list[np.ndarray]:
    """Smooth random colour images (BGR uint8): enough variety for calibration to mean something."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        small = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
        out.append(cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC))
    return out


def _tensor(image: np.ndarray) -> np.ndarray:
    rgb = cv2.cvtColor(cv2.resize(image, (SIZE, SIZE)), cv2.COLOR_BGR2RGB)
    return rgb.transpose(2, 0, 1)[None].astype(np.float32) / 255.0


def _run(model: onnx.ModelProto, tensors: list[np.ndarray], output: str) -> np.ndarray:
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.append(helper.make_empty_tensor_value_info(output))
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.concatenate([session.run([output], {"input": t})[0].ravel() for t in tensors])


def outputs(model: onnx.ModelProto | Path, images: list[np.ndarray]) -> np.ndarray:
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else Path(model).read_bytes()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return np.stack([session.run(None, {"input": _tensor(f)})[0] for f in images])
