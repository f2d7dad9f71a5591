"""``segview inspect``: its counts are the graph's (MACs worked out by hand), dtype bytes show fp16 and
int8, a card that disagrees with its graph is named, bad input is one line."""

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import factories
from cli_tools import assert_one_line_error, run_segview
from segview.inference.graph_summary import summarise_graph
from segview.inference.weight_stats import weight_stats

SIZE = 8


def _conv_model(path, *, zeros_in_first: int = 0, codebook: bool = False):
    """3 -> 4 channels (3x3, pad 1), a depthwise 3x3 over the 4 (group 4), a 1x1 head to 1 channel, Sigmoid."""
    rng = np.random.default_rng(3)
    w1 = rng.normal(0, 1, (4, 3, 3, 3)).astype(np.float32)
    w1.reshape(-1)[:zeros_in_first] = 0.0
    if codebook:
        # Every value of w1 one of 5: what k-means clustering leaves.
        w1 = np.array([-1.0, -0.5, 0.25, 0.5, 1.0], np.float32)[rng.integers(0, 5, w1.shape)]
    inits = [
        numpy_helper.from_array(w1, "w1"),
        numpy_helper.from_array(rng.normal(0, 1, (4, 1, 3, 3)).astype(np.float32), "wd"),
        numpy_helper.from_array(rng.normal(0, 1, (1, 4, 1, 1)).astype(np.float32), "wh"),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "w1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["c1", "wd"], ["c2"], pads=[1, 1, 1, 1], group=4),
        helper.make_node("Conv", ["c2", "wh"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["prob"]),
    ]
    return factories._save(factories.mask_model(nodes, "convs", inits, size=SIZE), path)


# By hand: output elements x (input channels per group x kernel) for each Conv.
HAND_MACS = {"first": 4 * SIZE * SIZE * 3 * 9, "depthwise": 4 * SIZE * SIZE * 1 * 9, "head": 1 * SIZE * SIZE * 4}
HAND_PARAMS = 4 * 3 * 9 + 4 * 9 + 4


def test_counts_are_the_graphs(tmp_path):
    path = _conv_model(tmp_path / "convs.onnx", zeros_in_first=27)
    out = tmp_path / "inspect.json"
    proc = run_segview("inspect", path, "--json", out, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert report["op_counts"] == {"Conv": 3, "Sigmoid": 1} and report["nodes"] == 4
    assert report["opsets"] == {"ai.onnx": factories.OPSET}
    assert report["inputs"] == [{"name": "input", "dtype": "FLOAT", "shape": [1, 3, SIZE, SIZE]}]
    assert report["outputs"] == [{"name": "prob", "dtype": "FLOAT", "shape": [1, 1, SIZE, SIZE]}]
    assert report["parameters"] == HAND_PARAMS
    assert report["macs"] == sum(HAND_MACS.values()) and report["macs_by_op"] == {"Conv": sum(HAND_MACS.values())}
    assert "Conv" in report["mac_ops_counted"] and report["macs_not_counted"] == []
    assert report["initializer_bytes_by_dtype"] == {"FLOAT": HAND_PARAMS * 4}
    first = next(w for w in report["weights"] if w["name"] == "w1")
    assert first["zeros"] == 27 and first["sparsity"] == pytest.approx(0.25)
    assert report["disagreements"] == [] and report["card"]["origin"] == "inferred"
    assert report["providers"] and "CPUExecutionProvider" in report["providers"]
    assert f"multiply-adds {sum(HAND_MACS.values()) / 1e6:.2f}M" in proc.stdout
    assert "card and graph agree" in proc.stdout


def test_gemm_and_matmul_macs_by_hand():
    a, b = helper.make_tensor_value_info("a", TensorProto.FLOAT, [2, 5]), helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
    inits = [numpy_helper.from_array(np.ones((3, 5), np.float32), "wg"), numpy_helper.from_array(np.ones((3, 3), np.float32), "wm")]
    nodes = [helper.make_node("Gemm", ["a", "wg"], ["g"], transB=1), helper.make_node("MatMul", ["g", "wm"], ["y"])]
    model = helper.make_model(helper.make_graph(nodes, "mm", [a], [b], inits), opset_imports=[helper.make_opsetid("", 13)])
    summary = summarise_graph(model)
    assert summary.macs_by_op == {"Gemm": 2 * 3 * 5, "MatMul": 2 * 3 * 3}


def test_clustered_weights_are_seen(tmp_path):
    model = onnx.load(str(_conv_model(tmp_path / "k.onnx", codebook=True)))
    stats = {s.name: s for s in weight_stats(model)}
    assert stats["w1"].distinct == 5 and stats["w1"].max_distinct_per_channel <= 5 and stats["w1"].clustered
    # A 3x3 depthwise filter has 9 values per channel: too few to call clustered.
    assert not stats["wd"].can_show_clustering


def test_fp16_and_int8_dynamic_bytes(tmp_path):
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.float16 import convert_float_to_float16

    source = _conv_model(tmp_path / "src.onnx")
    fp16 = tmp_path / "fp16.onnx"
    onnx.save(convert_float_to_float16(onnx.load(str(source)), keep_io_types=True), str(fp16))
    int8 = tmp_path / "int8.onnx"
    quantize_dynamic(str(source), str(int8), weight_type=QuantType.QUInt8)
    half = summarise_graph(onnx.load(str(fp16))).bytes_by_dtype
    assert half.get("FLOAT16") == HAND_PARAMS * 2 and "FLOAT" not in half
    quantized = summarise_graph(onnx.load(str(int8)))
    low = quantized.bytes_by_dtype.get("UINT8", 0) + quantized.bytes_by_dtype.get("INT8", 0)
    # Every weight as one byte (plus one zero point per tensor), the float bytes down to the scales.
    assert HAND_PARAMS <= low <= HAND_PARAMS + 8
    assert quantized.bytes_by_dtype.get("FLOAT", 0) < HAND_PARAMS
    assert "ConvInteger" in quantized.op_counts


def test_a_card_that_disagrees_is_named(tmp_path):
    path = _conv_model(tmp_path / "liar.onnx")
    card = {"name": "liar", "input": {"name": "input", "width": 16, "height": 16, "layout": "NCHW"}, "output": {"name": "prob", "kind": "logits"}}
    path.with_suffix(".json").write_text(json.dumps(card))
    proc = run_segview("inspect", path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"input size: the card declares 16x16, the graph input [1, 3, {SIZE}, {SIZE}] is {SIZE}x{SIZE}" in proc.stdout, proc.stdout
    assert "output kind: the card says logits, the graph's output ends in Sigmoid (sigmoid)" in proc.stdout


@pytest.mark.parametrize("make", ["missing", "not onnx"])
def test_bad_input_is_one_line(tmp_path, make):
    path = tmp_path / "bad.onnx"
    if make == "not onnx":
        path.write_bytes(b"this is not a model at all")
    assert_one_line_error(run_segview("inspect", path, timeout=60), "bad.onnx")


def test_a_card_with_the_wrong_layout_is_named(tmp_path):
    path = _conv_model(tmp_path / "nhwc.onnx")
    card = {"name": "nhwc", "input": {"name": "input", "width": SIZE, "height": 3, "layout": "NHWC"}, "output": {"name": "prob", "kind": "sigmoid"}}
    path.with_suffix(".json").write_text(json.dumps(card))
    out = tmp_path / "i.json"
    proc = run_segview("inspect", path, "--json", out, timeout=120)
    assert proc.returncode == 0, proc.stderr
    (line,) = [d for d in json.loads(out.read_text())["disagreements"] if d.startswith("layout")]
    assert line == f"layout: the card says NHWC, the graph input [1, 3, {SIZE}, {SIZE}] is NCHW"
    assert f"card disagrees with the graph: {line}" in proc.stdout
