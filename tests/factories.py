"""Tiny models, frames and videos that tests generate, so tests never need real weights or shared data."""

from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


def _save(model: onnx.ModelProto, path: Path) -> Path:
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def brightness_model(path: Path, *, size: int = 32, layout: str = "NCHW", dynamic: bool = False) -> Path:
    """Person probability = sigmoid(20 * (mean(R,G,B) - 0.5)): bright pixels are 'person'.

    A real conv + sigmoid graph whose answer tests can predict exactly.
    """
    h = w = None if dynamic else size
    shape = [1, 3, h, w] if layout == "NCHW" else [1, h, w, 3]
    out_shape = [1, 1, h, w] if layout == "NCHW" else [1, h, w, 1]
    weight = numpy_helper.from_array(np.full((1, 3, 1, 1), 20.0 / 3.0, np.float32), "w")
    bias = numpy_helper.from_array(np.array([-10.0], np.float32), "b")
    nodes = []
    conv_in = "input"
    if layout == "NHWC":
        nodes.append(helper.make_node("Transpose", ["input"], ["x_nchw"], perm=[0, 3, 1, 2]))
        conv_in = "x_nchw"
    nodes.append(helper.make_node("Conv", [conv_in, "w", "b"], ["logit"]))
    if layout == "NHWC":
        nodes.append(helper.make_node("Transpose", ["logit"], ["logit_nhwc"], perm=[0, 2, 3, 1]))
        nodes.append(helper.make_node("Sigmoid", ["logit_nhwc"], ["prob"]))
    else:
        nodes.append(helper.make_node("Sigmoid", ["logit"], ["prob"]))
    graph = helper.make_graph(
        nodes,
        "brightness",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, out_shape)],
        [weight, bias],
    )
    return _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]), path)


def colour_class_model(path: Path, *, size: int = 32) -> Path:
    """Three classes by dominant colour channel (R, G, B in RGB input): softmax over 10 * channel value."""
    weight = numpy_helper.from_array((10.0 * np.eye(3, dtype=np.float32)).reshape(3, 3, 1, 1), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "w"], ["scores"]), helper.make_node("Softmax", ["scores"], ["probs"], axis=1)],
        "colour_classes",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 3, size, size])],
        [weight],
    )
    return _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]), path)


def two_input_model(path: Path, *, size: int = 32) -> Path:
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["sum"]), helper.make_node("Sigmoid", ["sum"], ["prob"])],
        "two_inputs",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 3, size, size]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 3, size, size]),
        ],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, 3, size, size])],
    )
    return _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]), path)


def classifier_model(path: Path) -> Path:
    """An image classifier: its output is a vector, not a mask."""
    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["input"], ["pooled"]), helper.make_node("Flatten", ["pooled"], ["logits"])],
        "classifier",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3])],
    )
    return _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]), path)


def decoder_model(*, mode: str = "linear", kernel: int = 1, readers: int = 1, by_sizes: bool = False, size: int = 16) -> onnx.ModelProto:
    """Encoder at half resolution (8 channels), Resize x2, then a projection to 3 channels with a
    bias, a Relu and a one-channel head: a selfie-style decoder step in miniature."""
    rng = np.random.default_rng(7)
    inits = [
        numpy_helper.from_array(rng.normal(0, 0.5, (8, 3, 3, 3)).astype(np.float32), "enc_w"),
        numpy_helper.from_array(rng.normal(0, 0.5, (3, 8, kernel, kernel)).astype(np.float32), "proj_w"),
        numpy_helper.from_array(rng.normal(0, 0.5, 3).astype(np.float32), "proj_b"),
        numpy_helper.from_array(rng.normal(0, 0.5, (1, 3, 1, 1)).astype(np.float32), "head_w"),
        numpy_helper.from_array(np.zeros(0, np.float32), "roi"),
    ]
    if by_sizes:
        inits.append(numpy_helper.from_array(np.array([1, 8, size, size], np.int64), "sizes"))
        resize_inputs = ["enc_relu", "roi", "", "sizes"]
    else:
        inits.append(numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"))
        resize_inputs = ["enc_relu", "roi", "scales"]
    pad = kernel // 2
    nodes = [
        helper.make_node("Conv", ["input", "enc_w"], ["enc"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["enc"], ["enc_relu"]),
        helper.make_node("Resize", resize_inputs, ["up"], mode=mode),
        helper.make_node("Conv", ["up", "proj_w", "proj_b"], ["proj"], pads=[pad] * 4),
        helper.make_node("Relu", ["proj"], ["proj_relu"]),
    ]
    last = "proj_relu"
    if readers == 2:
        # A second reader of the upsampled tensor, which needs it at 8 channels.
        nodes.append(helper.make_node("ReduceMean", ["up"], ["up_mean"], axes=[1], keepdims=1))
        nodes.append(helper.make_node("Add", ["proj_relu", "up_mean"], ["both"]))
        last = "both"
    nodes += [helper.make_node("Conv", [last, "head_w"], ["logit"]), helper.make_node("Sigmoid", ["logit"], ["prob"])]
    return mask_model(nodes, "decoder", inits, size=size)


def mask_model(nodes: list, name: str, inits: list, *, size: int) -> onnx.ModelProto:
    """``nodes`` as a model from ``input`` (1x3xSIZExSIZE) to a one-class mask ``prob`` (1x1xSIZExSIZE), opset OPSET."""
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, 1, size, size])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def write_card(model_path: Path, **overrides) -> Path:
    card = {
        "name": model_path.stem,
        "task": "person-segmentation",
        "source": "generated by tests",
        "license": "Apache-2.0",
        "input": {
            "name": "input",
            "width": 32,
            "height": 32,
            "layout": "NCHW",
            "color_order": "RGB",
            "normalization": {"scale": 1 / 255, "mean": [0, 0, 0], "std": [1, 1, 1]},
        },
        "output": {"name": "prob", "kind": "sigmoid", "classes": ["background", "person"]},
    }
    for key, value in overrides.items():
        card[key] = value
    path = model_path.with_suffix(".json")
    path.write_text(json.dumps(card))
    return path


def bright_square_frame(width: int = 160, height: int = 120, *, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Dark frame with a white rectangle (x0, y0, x1, y1): the brightness model's 'person'."""
    frame = np.full((height, width, 3), 20, np.uint8)
    x0, y0, x1, y1 = box or (width // 4, height // 4, 3 * width // 4, 3 * height // 4)
    frame[y0:y1, x0:x1] = 235
    return frame


def moving_square_frames(count: int, width: int = 160, height: int = 120) -> list[np.ndarray]:
    frames = []
    for i in range(count):
        x0 = 10 + (i * 3) % (width - 60)
        frames.append(bright_square_frame(width, height, box=(x0, 30, x0 + 50, 90)))
    return frames


def write_video(path: Path, frames: list[np.ndarray], *, fps: int = 30, codec: str = "libx264") -> Path:
    """Encode real H.264 (yuv420p) with PyAV."""
    height, width = frames[0].shape[:2]
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_images(folder: Path, frames: list[np.ndarray], *, suffix: str = ".png") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(frames):
        path = folder / f"{i}{suffix}"
        cv2.imwrite(str(path), image)
        paths.append(path)
    return paths
