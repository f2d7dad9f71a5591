"""Pointwise convolutions moved before upsampling: the same numbers, a narrower tensor upsampled."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import factories
from segview.distill.commute import pointwise_before_upsampling


def _decoder(*, mode: str = "linear", kernel: int = 1, readers: int = 1, by_sizes: bool = False, size: int = 16) -> onnx.ModelProto:
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
    graph = helper.make_graph(
        nodes,
        "decoder",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, 1, size, size])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]


@pytest.mark.parametrize("mode", ["linear", "nearest"])
def test_a_projection_after_upsampling_moves_before_it_and_computes_the_same(mode):
    model = _decoder(mode=mode)
    x = np.random.default_rng(0).random((1, 3, 16, 16), np.float32)
    before = _run(model, x)
    assert pointwise_before_upsampling(model) == 1
    onnx.checker.check_model(model)
    by_output = {n.output[0]: n for n in model.graph.node}
    # The projection reads the encoder's 8 channels; the Resize now upsamples its 3.
    assert by_output["proj/before_upsampling"].op_type == "Conv" and by_output["proj/before_upsampling"].input[0] == "enc_relu"
    assert by_output["proj"].op_type == "Resize" and by_output["proj"].input[0] == "proj/before_upsampling"
    np.testing.assert_allclose(_run(model, x), before, atol=1e-5)


@pytest.mark.parametrize(
    "variant",
    [{"kernel": 3}, {"readers": 2}, {"by_sizes": True}, {"mode": "cubic"}],
    ids=["3x3 convolution", "upsampled tensor read twice", "Resize by sizes", "cubic Resize"],
)
def test_what_would_not_compute_the_same_is_left_alone(variant):
    model = _decoder(**variant)
    x = np.random.default_rng(1).random((1, 3, 16, 16), np.float32)
    before = _run(model, x)
    original = model.SerializeToString()
    assert pointwise_before_upsampling(model) == 0
    assert model.SerializeToString() == original
    np.testing.assert_allclose(_run(model, x), before, atol=1e-6)


def test_a_slim_student_of_such_a_teacher_is_built_rewritten_and_says_so(model_dir, square_frames, tiny_config):
    pytest.importorskip("torch")
    from segview.distill.runner import distill
    from segview.inference.registry import ModelRegistry

    teacher = model_dir / "decoder.onnx"
    factories._save(_decoder(size=32), teacher)
    factories.write_card(teacher, name="decoder")
    out = model_dir / "rewritten.onnx"
    config = replace(tiny_config(teacher, square_frames, out, max_steps=3), arch="slim", width=1.0, resolution=32)
    distill(config, registry=ModelRegistry([model_dir]))
    card = ModelRegistry([model_dir]).resolve("rewritten").card
    assert card.extra["distillation"]["graph_rewrites"] == {"pointwise_before_upsampling": 1}
    exported = onnx.load(str(out))
    assert [n.op_type for n in exported.graph.node][:4] == ["Conv", "Relu", "Conv", "Resize"]
