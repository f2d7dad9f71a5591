"""Each step alone, on the tiny network: its output runs in onnxruntime, has the expected ops,
sparsity or clusters, stays close to the input model's output, and the input is never modified."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from compress import tiny
from segview.compress import graph
from segview.compress.step import CancelToken, CompressionError, StepContext, config_from_dict, get_step, parse_step_text, step_names

ALL_STEPS = ["rewrite", "fp16", "int8-static", "int8-dynamic", "int8-auto", "prune", "prune-channels", "cluster", "recover"]


def apply(name: str, model: onnx.ModelProto, card, tmp_path: Path, frames=None, **options):
    step = get_step(name)
    config = config_from_dict(step, options)
    step.check(model, config)
    ctx = StepContext(card=card, workdir=tmp_path, cancel=CancelToken(), calibration=frames)
    output = step.apply(model, config, ctx)
    graph.session(output.model)  # runs in onnxruntime
    return output


def ops(model: onnx.ModelProto) -> set[str]:
    return {n.op_type for n in model.graph.node}


def mean_gap(a: onnx.ModelProto, b: onnx.ModelProto) -> float:
    images = tiny.frames(6, seed=21)
    return float(np.abs(tiny.outputs(a, images) - tiny.outputs(b, images)).mean())


def test_every_step_is_registered_once_by_name():
    assert step_names() == ALL_STEPS
    with pytest.raises(CompressionError, match="unknown compression step 'zip'"):
        get_step("zip")


def test_step_text_is_parsed_into_a_typed_config():
    step, config = parse_step_text("int8-static:calibration=entropy,per_channel=false,frames=7,exclude_op_types=[Mul,Sigmoid]")
    assert step.name == "int8-static"
    assert (config.calibration, config.per_channel, config.frames, config.exclude_op_types) == ("entropy", False, 7, ("Mul", "Sigmoid"))
    with pytest.raises(CompressionError, match="must be one of minmax, entropy, percentile"):
        parse_step_text("int8-static:calibration=median")
    with pytest.raises(CompressionError, match="has no option colour"):
        parse_step_text("cluster:colour=red")
    with pytest.raises(CompressionError, match="must be an integer"):
        parse_step_text("cluster:clusters=many")
    with pytest.raises(CompressionError, match="sparsity must be in"):
        parse_step_text("prune:sparsity=1.5")


def test_fp16_halves_the_weights_and_keeps_float32_inputs_and_outputs(tiny_model, tiny_card, tmp_path):
    source = onnx.load(str(tiny_model))
    before = source.SerializeToString()
    out = apply("fp16", source, tiny_card, tmp_path).model
    assert source.SerializeToString() == before, "the step modified its input"
    assert all(i.data_type == onnx.TensorProto.FLOAT16 for i in out.graph.initializer)
    assert out.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert out.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert mean_gap(source, out) < 2e-3


@pytest.mark.parametrize("method", ["minmax", "entropy", "percentile"])
def test_int8_static_makes_a_qdq_model_from_calibration_frames(tiny_model, tiny_card, tmp_path, calibration, method):
    source = onnx.load(str(tiny_model))
    output = apply("int8-static", source, tiny_card, tmp_path, calibration, calibration=method)
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops(output.model)
    assert output.notes["calibration_frames"] == len(calibration.calibration_frames)
    assert mean_gap(source, output.model) < 0.05


def test_int8_static_qoperator_format_uses_integer_ops(tiny_model, tiny_card, tmp_path, calibration):
    output = apply("int8-static", onnx.load(str(tiny_model)), tiny_card, tmp_path, calibration, format="qoperator")
    assert "QLinearConv" in ops(output.model)


def test_int8_static_without_calibration_says_what_it_needs(tiny_model, tiny_card, tmp_path):
    with pytest.raises(CompressionError, match="needs calibration frames"):
        apply("int8-static", onnx.load(str(tiny_model)), tiny_card, tmp_path)


def test_int8_dynamic_uses_integer_convolutions(tiny_model, tiny_card, tmp_path):
    source = onnx.load(str(tiny_model))
    out = apply("int8-dynamic", source, tiny_card, tmp_path).model
    assert "ConvInteger" in ops(out)
    assert mean_gap(source, out) < 0.05


def test_int8_auto_keeps_sensitive_nodes_in_float_and_keeps_the_best_when_the_target_is_out_of_reach(tiny_model, tiny_card, tmp_path, calibration):
    source = onnx.load(str(tiny_model))
    output = apply("int8-auto", source, tiny_card, tmp_path, calibration, max_iou_drop=0.0, max_float_nodes=3)
    notes = output.notes
    assert notes["target_iou_drop"] == 0.0
    assert notes["most_sensitive"] and all("sensitivity" in n for n in notes["most_sensitive"])
    first = notes["search"][0]["iou_drop"]
    assert notes["iou_drop_on_calibration_frames"] <= first  # never worse than quantizing everything
    for kept in notes["kept_in_float"]:
        assert kept["why"] and kept["node"] in {n.name for n in source.graph.node}
    if not notes["target_met"]:
        assert len(notes["search"]) >= 2  # it searched, then kept the best model anyway
    assert "QuantizeLinear" in ops(output.model)


def test_int8_auto_with_a_loose_target_quantizes_everything(tiny_model, tiny_card, tmp_path, calibration):
    output = apply("int8-auto", onnx.load(str(tiny_model)), tiny_card, tmp_path, calibration, max_iou_drop=1.0)
    assert output.notes["target_met"] and output.notes["kept_in_float"] == []


def test_int8_refuses_an_already_quantized_model(tiny_model, tiny_card, tmp_path, calibration):
    quantized = apply("int8-static", onnx.load(str(tiny_model)), tiny_card, tmp_path, calibration).model
    with pytest.raises(CompressionError, match="already quantized|needs a float model"):
        apply("int8-static", quantized, tiny_card, tmp_path, calibration)


@pytest.mark.parametrize("scope", ["layer", "global"])
def test_magnitude_pruning_reaches_the_target_sparsity(tiny_model, tiny_card, tmp_path, scope):
    source = onnx.load(str(tiny_model))
    output = apply("prune", source, tiny_card, tmp_path, sparsity=0.5, scope=scope)
    weights = [graph.to_array(w) for _, w in graph.weight_nodes(output.model)]
    zeros = sum(int(np.count_nonzero(w == 0)) for w in weights)
    assert zeros / sum(w.size for w in weights) == pytest.approx(0.5, abs=0.02)
    if scope == "layer":
        assert all(abs(s - 0.5) < 0.13 for s in output.notes["per_layer"].values())  # small layers round
    assert [tuple(w.shape) for w in weights] == [tuple(graph.to_array(w).shape) for _, w in graph.weight_nodes(source)]


@pytest.mark.parametrize("with_frames", [True, False])
def test_channel_pruning_removes_dead_channels_without_changing_the_output(model_dir, tmp_path, calibration, with_frames):
    from segview.inference.inspect import describe_model

    path = tiny.tiny_segmenter(model_dir / "dead.onnx", dead_channels=4)
    source = onnx.load(str(path))
    frames = calibration if with_frames else None
    output = apply("prune-channels", source, describe_model(path), tmp_path, frames, ratio=0.25, round_to=4, min_channels=4, max_iou_drop=1.0)
    shapes = {i.name: tuple(i.dims) for i in output.model.graph.initializer}
    # One group (tied by the depthwise conv, the excite Mul and the residual Add) lost the same four channels everywhere.
    assert shapes["stem/w"] == (12, 3, 3, 3) and shapes["dw/w"] == (12, 1, 3, 3) and shapes["pw/w"] == (12, 12, 1, 1)
    assert shapes["se1/w"] == (8, 12, 1, 1) and shapes["se2/w"] == (12, 8, 1, 1) and shapes["head/w"] == (1, 12, 1, 1)
    assert next(graph.attribute(n, "group") for n in output.model.graph.node if n.name == "dw") == 12
    assert output.notes["parameters_after"] < output.notes["parameters_before"]
    assert len(output.model.SerializeToString()) < len(source.SerializeToString())
    assert mean_gap(source, output.model) < 1e-5


def test_channel_pruning_search_leaves_groups_whole_to_meet_the_target(tiny_model, tiny_card, tmp_path, calibration):
    output = apply("prune-channels", onnx.load(str(tiny_model)), tiny_card, tmp_path, calibration, ratio=0.5, round_to=4, min_channels=4, max_iou_drop=0.0)
    notes = output.notes
    assert notes["channel_groups_prunable"] >= 2
    assert notes["target_met"] or notes["kept_uncompressed"]
    assert notes["iou_drop_on_calibration_frames"] <= notes["search"][0]["iou_drop"]


@pytest.mark.parametrize("storage", ["codebook", "dense"])
def test_clustering_leaves_k_shared_values_per_layer(tiny_model, tiny_card, tmp_path, storage):
    source = onnx.load(str(tiny_model))
    output = apply("cluster", source, tiny_card, tmp_path, clusters=4, storage=storage, per_channel_scale=False)
    materialized = _weights(output.model, [w.name for _, w in graph.weight_nodes(source)])
    for name, values in materialized.items():
        assert np.unique(values).size <= 4, name
    if storage == "codebook":
        books = [i for i in output.model.graph.initializer if i.name.endswith("__codebook")]
        assert books and all(np.prod(b.dims) <= 4 for b in books)
        assert "Gather" in ops(output.model)
        assert len(output.model.SerializeToString()) < len(source.SerializeToString())
    assert output.notes["max_distinct_values_per_layer"] <= 4


def test_clustering_with_channel_scales_stays_close_to_the_source(tiny_model, tiny_card, tmp_path, calibration):
    source = onnx.load(str(tiny_model))
    output = apply("cluster", source, tiny_card, tmp_path, calibration, clusters=16, max_iou_drop=1.0)
    assert mean_gap(source, output.model) < 0.03
    materialized = _weights(output.model, ["pw/w"])
    for row in materialized["pw/w"].reshape(16, -1):
        assert np.unique(row).size <= 16


def test_a_chain_step_that_cannot_take_the_previous_output_says_so(tiny_model, tiny_card, tmp_path, calibration):
    fp16 = apply("fp16", onnx.load(str(tiny_model)), tiny_card, tmp_path).model
    with pytest.raises(CompressionError, match="float32 weights"):
        get_step("int8-static").check(fp16, config_from_dict(get_step("int8-static"), {}))


def _weights(model: onnx.ModelProto, names: list[str]) -> dict[str, np.ndarray]:
    """Weights as onnxruntime computes them (codebook storage rebuilds them with Gather)."""
    probe = graph.copy_model(model)
    inits = graph.initializers(probe)
    result = {}
    pending = []
    for name in names:
        if name in inits:
            result[name] = graph.to_array(inits[name])
        else:
            probe.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
            pending.append(name)
    if pending:
        session = graph.session(probe, optimize=False)
        values = session.run(pending, {"input": np.zeros((1, 3, tiny.SIZE, tiny.SIZE), np.float32)})
        result.update(dict(zip(pending, values, strict=True)))
    return result


def test_int8_keeps_the_rgb_stem_in_float_unless_told_otherwise(tiny_model, tiny_card, tmp_path, calibration):
    source = onnx.load(str(tiny_model))
    default = apply("int8-static", source, tiny_card, tmp_path, calibration).model
    everything = apply("int8-static", source, tiny_card, tmp_path, calibration, float_narrow_convs=False).model

    def stem_weight_is_quantized(model):
        producers = graph.producers(model)
        stem = next(n for n in model.graph.node if n.name == "stem")
        return producers.get(stem.input[1]) is not None and producers[stem.input[1]].op_type == "DequantizeLinear"

    assert not stem_weight_is_quantized(default)
    assert stem_weight_is_quantized(everything)


def test_the_pareto_front_keeps_points_nothing_beats():
    from segview.compress.chart import ChartPoint, pareto_front, render

    points = [
        ChartPoint("source", 1.0, 400.0, 0.90, True),
        ChartPoint("fast", 0.5, 300.0, 0.85),
        ChartPoint("worse", 0.9, 350.0, 0.84),
        ChartPoint("small", 1.1, 100.0, 0.89),
    ]
    assert {points[i].label for i in pareto_front(points, "latency")} == {"source", "fast"}
    assert {points[i].label for i in pareto_front(points, "size_kib")} == {"source", "small"}
    image = render(points, accuracy_label="IoU", title="t", highlight="fast")
    assert image.shape == (560, 1280, 3) and image.std() > 0
