"""The slim student: the teacher's graph without squeeze-excite gates, their means folded in."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import factories
from segview.distill.slim_graph import mean_gates, slim_graph, squeeze_excite_gates


def _squeeze_excite(name: str, source: str, channels: int, rng: np.random.Generator) -> tuple[list, list]:
    """GlobalAveragePool -> Conv -> Relu -> Conv -> Sigmoid -> Mul, as MobileNetV3 builds it."""
    hidden = max(2, channels // 2)
    inits = [
        numpy_helper.from_array(rng.normal(0, 1, (hidden, channels, 1, 1)).astype(np.float32), f"{name}_w1"),
        numpy_helper.from_array(rng.normal(0, 1, (channels, hidden, 1, 1)).astype(np.float32), f"{name}_w2"),
    ]
    nodes = [
        helper.make_node("GlobalAveragePool", [source], [f"{name}_pool"]),
        helper.make_node("Conv", [f"{name}_pool", f"{name}_w1"], [f"{name}_squeeze"]),
        helper.make_node("Relu", [f"{name}_squeeze"], [f"{name}_relu"]),
        helper.make_node("Conv", [f"{name}_relu", f"{name}_w2"], [f"{name}_excite"]),
        helper.make_node("Sigmoid", [f"{name}_excite"], [f"{name}_gate"]),
        helper.make_node("Mul", [source, f"{name}_gate"], [name]),
    ]
    return nodes, inits


def se_teacher(path: Path, size: int = 32, *, sees_squares: bool = False) -> Path:
    """Two gates: one read by a convolution (folded after it), one after Relu(Conv) (folded before it).

    Its random weights call almost nothing a person (the pool's people check refuses such a teacher,
    rightly); ``sees_squares`` adds the brightness rule to its logit, so that it marks the test
    frames' bright boxes as people, as the other tiny teachers do, and can be distilled."""
    rng = np.random.default_rng(3)
    inits = [
        numpy_helper.from_array(rng.normal(0, 0.5, (8, 3, 3, 3)).astype(np.float32), "c1_w"),
        numpy_helper.from_array(rng.normal(0, 0.1, 8).astype(np.float32), "c1_b"),
        numpy_helper.from_array(rng.normal(0, 0.5, (8, 8, 1, 1)).astype(np.float32), "c2_w"),
        numpy_helper.from_array(rng.normal(0, 0.1, 8).astype(np.float32), "c2_b"),
        numpy_helper.from_array(rng.normal(0, 0.5, (1, 8, 1, 1)).astype(np.float32), "c3_w"),
    ]
    se1, se1_inits = _squeeze_excite("m1", "a1", 8, rng)
    se2, se2_inits = _squeeze_excite("m2", "r2", 8, rng)
    nodes = [
        helper.make_node("Conv", ["input", "c1_w", "c1_b"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("HardSwish", ["c1"], ["a1"]),
        *se1,
        helper.make_node("Conv", ["m1", "c2_w", "c2_b"], ["c2"]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        *se2,
        helper.make_node("Add", ["m2", "m2"], ["twice"]),
        helper.make_node("Conv", ["twice", "c3_w"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["prob"]),
    ]
    if sees_squares:
        # logit += 10 * mean(RGB) - 5: bright (235) pixels are a person, dark (20) ones are not.
        inits += [
            numpy_helper.from_array(np.full((1, 3, 1, 1), 10.0 / 3.0, np.float32), "bright_w"),
            numpy_helper.from_array(np.array([-5.0], np.float32), "bright_b"),
        ]
        nodes[-2:-1] = [
            helper.make_node("Conv", ["twice", "c3_w"], ["gated_logit"]),
            helper.make_node("Conv", ["input", "bright_w", "bright_b"], ["brightness"]),
            helper.make_node("Add", ["gated_logit", "brightness"], ["logit"]),
        ]
    return _save_teacher(path, nodes, [*inits, *se1_inits, *se2_inits], size, opset=14)


def _save_teacher(path: Path, nodes: list, inits: list, size: int, *, opset: int) -> Path:
    """A registered one-output teacher: "input" (1, 3, size, size) in, "prob" (1, 1, size, size) out."""
    graph = helper.make_graph(
        nodes,
        path.stem,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, 1, size, size])],
        inits,
    )
    factories._save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), path)
    factories.write_card(path, name=path.stem)
    return path


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]


def test_gates_are_found_and_their_means_folded_exactly(tmp_path):
    model = onnx.load(str(se_teacher(tmp_path / "se.onnx")))
    assert [g.output[0] for g in squeeze_excite_gates(model)] == ["m1", "m2"]
    x = np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32)
    # Over a single input the mean gate is that input's gate: the slim graph must give the same answer.
    slim = slim_graph(model, mean_gates(model, [x]), relu=False)
    ops = [n.op_type for n in slim.graph.node]
    assert "Mul" not in ops and "GlobalAveragePool" not in ops and "HardSwish" in ops
    assert {"m1", "m2"} <= {out for n in slim.graph.node for out in n.output}  # hint layers keep their names
    onnx.checker.check_model(slim)
    np.testing.assert_allclose(_run(slim, x), _run(model, x), atol=1e-5)
    # Another input has other gates: close, not equal (what fine-tuning then corrects).
    y = np.random.default_rng(1).random((1, 3, 32, 32), dtype=np.float32)
    assert np.abs(_run(slim, y) - _run(model, y)).max() > 1e-4


def test_relu_replaces_hardswish_and_no_means_leaves_gates_at_one(tmp_path):
    model = onnx.load(str(se_teacher(tmp_path / "se.onnx")))
    slim = slim_graph(model, {}, relu=True)
    ops = [n.op_type for n in slim.graph.node]
    assert "HardSwish" not in ops and ops.count("Relu") == 2
    # Unfolded weights are the teacher's own.
    weights = {i.name: numpy_helper.to_array(i) for i in slim.graph.initializer}
    np.testing.assert_array_equal(weights["c2_w"], numpy_helper.to_array(next(i for i in model.graph.initializer if i.name == "c2_w")))
    assert not any(name.startswith("m1_") for name in weights)  # the gates' own weights are gone


def test_slim_student_distils_and_exports_without_gates(tmp_path, square_frames, model_dir, tiny_config):
    pytest.importorskip("torch")
    from segview.distill.runner import distill
    from segview.inference.registry import ModelRegistry

    teacher = se_teacher(model_dir / "se.onnx", sees_squares=True)
    out = model_dir / "slim.onnx"
    config = replace(tiny_config(teacher, square_frames, out, max_steps=3), arch="slim", width=1.0)
    outcome = distill(config, registry=ModelRegistry([model_dir]))
    assert outcome.model_path == out and out.exists()
    exported = onnx.load(str(out))
    assert {"Mul", "GlobalAveragePool"}.isdisjoint(n.op_type for n in exported.graph.node)
    card = ModelRegistry([model_dir]).resolve("slim").card
    assert card.extra["distillation"]["architecture"] == "slim"
    assert card.extra["distillation"]["slim"] == {"removed_gates": ["m1", "m2"], "relu_for_hardswish": False, "skipped_last_stage": False}
    assert _run(exported, np.zeros((1, 3, 32, 32), np.float32)).shape == (1, 1, 32, 32)


def staged_teacher(path: Path, *, low_channels: int = 4, size: int = 32) -> Path:
    """An encoder at half resolution, a Resize up, and a last stage at full resolution before
    the output layer: the shape of the selfie teacher's decoder, in miniature."""
    rng = np.random.default_rng(5)
    inits = [
        numpy_helper.from_array(rng.normal(0, 0.5, (8, 3, 3, 3)).astype(np.float32), "enc_w"),
        numpy_helper.from_array(rng.normal(0, 0.5, (low_channels, 8, 1, 1)).astype(np.float32), "low_w"),
        numpy_helper.from_array(rng.normal(0, 0.5, (4, low_channels, 3, 3)).astype(np.float32), "refine_w"),
        numpy_helper.from_array(rng.normal(0, 0.5, (1, 4, 1, 1)).astype(np.float32), "head_w"),
        numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"),
        numpy_helper.from_array(np.zeros(0, np.float32), "roi"),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "enc_w"], ["enc"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["enc"], ["enc_relu"]),
        helper.make_node("Conv", ["enc_relu", "low_w"], ["low"]),
        helper.make_node("Resize", ["low", "roi", "scales"], ["up"], mode="linear"),
        helper.make_node("Conv", ["up", "refine_w"], ["refine"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["refine"], ["last"]),
        helper.make_node("Conv", ["last", "head_w"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["prob"]),
    ]
    return _save_teacher(path, nodes, inits, size, opset=13)


def test_skipping_the_last_stage_feeds_the_output_layer_from_before_the_upsampling(tmp_path):
    model = onnx.load(str(staged_teacher(tmp_path / "staged.onnx")))
    slim = slim_graph(model, {}, skip_last_stage=True)
    ops = [n.op_type for n in slim.graph.node]
    assert ops == ["Conv", "Relu", "Conv", "Conv", "Sigmoid"]  # Resize and the full-size stage are gone
    head = next(n for n in slim.graph.node if n.output[0] == "logit")
    assert head.input[0] == "low"
    onnx.checker.check_model(slim)
    x = np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32)
    assert _run(slim, x).shape == (1, 1, 16, 16)  # half the resolution
    # The output layer keeps its weights; the skipped stage's are gone.
    weights = {i.name for i in slim.graph.initializer}
    assert "head_w" in weights and "refine_w" not in weights


def test_a_last_stage_that_cannot_be_skipped_says_why(tmp_path):
    other_width = onnx.load(str(staged_teacher(tmp_path / "wide.onnx", low_channels=6)))
    with pytest.raises(ValueError, match="6"):
        slim_graph(other_width, {}, skip_last_stage=True)
    no_upsampling = onnx.load(str(se_teacher(tmp_path / "se.onnx")))
    with pytest.raises(ValueError, match="no upsampling"):
        slim_graph(no_upsampling, {}, skip_last_stage=True)


def test_student_without_the_last_stage_trains_exports_and_runs(tmp_path, square_frames, model_dir, tiny_config):
    pytest.importorskip("torch")
    from segview.distill.runner import distill
    from segview.inference.registry import ModelRegistry
    from segview.inference.session import SegmentationSession

    teacher = staged_teacher(model_dir / "staged.onnx")
    out = model_dir / "coarse.onnx"
    config = replace(tiny_config(teacher, square_frames, out, max_steps=3), arch="slim", width=1.0, resolution=32, slim_skip_last_stage=True)
    outcome = distill(config, registry=ModelRegistry([model_dir]))
    assert outcome.model_path == out
    entry = ModelRegistry([model_dir]).resolve("coarse")
    assert entry.card.extra["distillation"]["slim"]["skipped_last_stage"] is True
    exported = onnx.load(str(out))
    assert _run(exported, np.zeros((1, 3, 32, 32), np.float32)).shape == (1, 1, 16, 16)
    # The graph declares the half-size mask it makes (a wrong declaration warns at every load).
    assert [d.dim_value for d in exported.graph.output[0].type.tensor_type.shape.dim] == [1, 1, 16, 16]
    # The pipeline's session resizes the half-size mask to the frame.
    frame = np.zeros((60, 80, 3), np.uint8)
    assert SegmentationSession(entry.path, entry.card).segment(frame).mask.shape == (60, 80)


def test_skipping_the_last_stage_of_a_teacher_without_one_is_a_clear_error(tmp_path, square_frames, model_dir, tiny_config):
    pytest.importorskip("torch")
    from segview.distill.availability import DistillError
    from segview.distill.runner import distill
    from segview.inference.registry import ModelRegistry

    teacher = se_teacher(model_dir / "se.onnx", sees_squares=True)
    out = model_dir / "nothing.onnx"
    config = replace(tiny_config(teacher, square_frames, out, max_steps=3), arch="slim", width=1.0, slim_skip_last_stage=True)
    with pytest.raises(DistillError, match="no upsampling"):
        distill(config, registry=ModelRegistry([model_dir]))
    assert not out.exists()


def test_a_teacher_that_calls_nothing_a_person_is_refused_before_training(tmp_path, square_frames, model_dir, tiny_config):
    pytest.importorskip("torch")
    from segview.distill.availability import DistillError
    from segview.distill.runner import distill
    from segview.inference.registry import ModelRegistry

    # The random gated network marks under 1% of any test frame: it has nothing to teach.
    teacher = se_teacher(model_dir / "se.onnx")
    out = model_dir / "blind.onnx"
    config = replace(tiny_config(teacher, square_frames, out, max_steps=3), arch="slim", width=1.0)
    with pytest.raises(DistillError, match="finds no person in 24 of 24 sampled frames"):
        distill(config, registry=ModelRegistry([model_dir]))
    assert not out.exists() and not config.checkpoint_path.exists()
