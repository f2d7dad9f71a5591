"""recover: a distillation fine-tune after prune-channels or cluster, on the tiny network, in a few steps."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from cli_tools import assert_one_line_error, run_segview
from compress import tiny
from compress.conftest import files_in
from segview.compress import graph
from segview.compress.step import Cancelled, CancelToken, CompressionError, StepContext, chain_problem, config_from_dict, get_step, parse_step_text
from segview.distill import availability

PRUNE = {"ratio": 0.5, "round_to": 4, "min_channels": 4, "max_iou_drop": 1.0}
PRUNE_TEXT = "prune-channels:ratio=0.5,round_to=4,min_channels=4,max_iou_drop=1"
# A large learning rate: five steps must visibly move the weights.
RECOVER = {"steps": 5, "lr": 0.01, "batch": 4}


def apply(name, model, card, tmp_path, calibration, source, cancel=None, progress=None, **options):
    step = get_step(name)
    config = config_from_dict(step, options)
    step.check(model, config)
    ctx = StepContext(card=card, workdir=tmp_path, cancel=cancel or CancelToken(), calibration=calibration, source=source)
    if progress is not None:
        ctx.progress = progress
    output = step.apply(graph.copy_model(model), config, ctx)
    graph.session(output.model)  # runs in onnxruntime
    return output


def arrays(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {i.name: graph.to_array(i) for i in model.graph.initializer}


def test_recover_after_pruning_keeps_the_pruned_shapes_and_trains_the_weights(tiny_model, tiny_card, calibration, tmp_path):
    source = onnx.load(str(tiny_model))
    pruned = apply("prune-channels", source, tiny_card, tmp_path, calibration, source, **PRUNE).model
    output = apply("recover", pruned, tiny_card, tmp_path, calibration, source, **RECOVER)
    before, after = arrays(pruned), arrays(output.model)
    assert {k: v.shape for k, v in after.items()} == {k: v.shape for k, v in before.items()}
    assert after["stem/w"].shape[0] < arrays(source)["stem/w"].shape[0]  # still pruned
    assert any(not np.array_equal(before[k], after[k]) for k in before)
    out = tiny.outputs(output.model, tiny.frames(3, seed=5))
    assert out.shape[-2:] == (tiny.SIZE, tiny.SIZE) and np.isfinite(out).all()
    notes = output.notes
    assert notes["steps"] == 5 and notes["frames"] == len(calibration.calibration_frames)
    assert notes["loss_start"] > 0 and notes["loss_end"] > 0
    assert 0 <= notes["iou_vs_source_before"] <= 1 and 0 <= notes["iou_vs_source_after"] <= 1
    assert "held-out" in notes["iou_measured_on"]


@pytest.mark.parametrize("storage, per_channel", [("codebook", True), ("dense", False)])
def test_recover_after_clustering_trains_the_shared_values_and_keeps_k_per_tensor(storage, per_channel, tiny_model, tiny_card, calibration, tmp_path):
    source = onnx.load(str(tiny_model))
    k = 4
    clustered = apply(
        "cluster", source, tiny_card, tmp_path, calibration, source, clusters=k, max_iou_drop=1.0, storage=storage, per_channel_scale=per_channel
    ).model
    output = apply("recover", clustered, tiny_card, tmp_path, calibration, source, **RECOVER)
    before, after = arrays(clustered), arrays(output.model)
    shared = [n for n in after if n.endswith("__codebook")] if storage == "codebook" else [n for n in after if n.endswith("/w")]
    assert len(shared) == 6 and output.notes["shared_tensors_trained_by_their_values"] == 6
    for name in shared:
        assert np.unique(after[name]).size <= k, name
    assert any(not np.array_equal(before[n], after[n]) for n in shared)
    if storage == "codebook":
        # Every weight keeps its cluster: the index maps are the same bytes.
        indices = [n for n in before if n.endswith("__idx")]
        assert indices and all(np.array_equal(before[n], after[n]) for n in indices)
    else:
        for name in shared:  # same positions share a value before and after
            _, index_before = np.unique(before[name], return_inverse=True)
            values_after = after[name].reshape(-1)
            for cluster in np.unique(index_before):
                assert np.unique(values_after[index_before.reshape(-1) == cluster]).size == 1


def test_recover_can_be_cancelled_between_steps(tiny_model, tiny_card, calibration, tmp_path):
    source = onnx.load(str(tiny_model))
    pruned = apply("prune-channels", source, tiny_card, tmp_path, calibration, source, **PRUNE).model
    token = CancelToken()
    seen = []

    def progress(fraction, message):
        seen.append(message)
        if message.startswith("step "):
            token.cancel()

    with pytest.raises(Cancelled):
        apply("recover", pruned, tiny_card, tmp_path, calibration, source, cancel=token, progress=progress, steps=1000)
    assert sum(m.startswith("step ") for m in seen) == 1


def test_without_torch_recover_says_how_to_install_it(monkeypatch, tiny_model):
    monkeypatch.setattr(availability, "torch_available", lambda: False)
    with pytest.raises(CompressionError) as raised:
        parse_step_text("recover:minutes=30")
    assert str(raised.value) == "recover needs PyTorch: pip install 'segview[distill]'"
    with pytest.raises(CompressionError, match=r"recover needs PyTorch: pip install 'segview\[distill\]'"):
        get_step("recover").check(onnx.load(str(tiny_model)), get_step("recover").config_type())


def test_recover_names_the_op_it_cannot_rebuild(tiny_model, tiny_card, calibration, tmp_path):
    source = onnx.load(str(tiny_model))
    quantized = apply("int8-dynamic", source, tiny_card, tmp_path, calibration, source).model
    foreign = sorted({n.op_type for n in quantized.graph.node} - {"Conv", "Relu", "HardSwish", "Sigmoid", "Add", "Mul", "GlobalAveragePool"})
    with pytest.raises(CompressionError, match="recover cannot rebuild this model in PyTorch: it uses ") as raised:
        get_step("recover").check(quantized, get_step("recover").config_type())
    assert foreign and all(op in str(raised.value) for op in foreign)


def test_recover_refuses_a_model_with_two_inputs(tiny_model):
    model = onnx.load(str(tiny_model))
    model.graph.input.append(helper.make_tensor_value_info("extra", TensorProto.FLOAT, [1, 16, tiny.SIZE, tiny.SIZE]))
    node = next(n for n in model.graph.node if n.name == "residual")
    node.input[1] = "mixed"
    model.graph.node.insert(list(model.graph.node).index(node), helper.make_node("Add", ["stem_act", "extra"], ["mixed"], name="mix"))
    with pytest.raises(CompressionError, match="it has 2 inputs"):
        get_step("recover").check(model, get_step("recover").config_type())


def test_recover_must_follow_a_pruning_or_clustering_step():
    assert chain_problem(["recover"]) == "recover needs cluster or prune-channels before it; it is the first step (it wins back the accuracy they cost)"
    assert "the steps before it (prune) are neither" in chain_problem(["prune", "recover"])
    assert "after int8-dynamic they are int8" in chain_problem(["prune-channels", "int8-dynamic", "recover"])
    assert chain_problem(["recover", "prune-channels"]).startswith("recover needs cluster or prune-channels before it")
    assert chain_problem(["prune-channels", "recover"]) is None and chain_problem(["cluster", "recover", "fp16"]) is None


def test_segview_compress_prunes_then_recovers_and_reports_the_figures(tiny_model, calib_dir, out_dir, tmp_path):
    proc = run_segview(
        "compress",
        "--model",
        tiny_model,
        "--step",
        PRUNE_TEXT,
        "--step",
        "recover:steps=3,batch=4",
        "--calib",
        calib_dir,
        "--out",
        out_dir,
        "--json",
        tmp_path / "r.json",
        "--rounds",
        "2",
        "--runs",
        "2",
        "--threads",
        "1",
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "tiny-pruned50-recovered.onnx" in files_in(out_dir)
    report = json.loads((tmp_path / "r.json").read_text())
    notes = report["steps"][1]["notes"]
    assert report["steps"][1]["step"] == "recover" and notes["steps"] == 3
    assert {"loss_start", "loss_end", "iou_vs_source_before", "iou_vs_source_after", "frames"} <= set(notes)


def test_segview_compress_refuses_recover_as_the_first_step(tiny_model, calib_dir, out_dir):
    proc = run_segview("compress", "--model", tiny_model, "--step", "recover:steps=3", "--calib", calib_dir, "--out", out_dir)
    assert_one_line_error(proc, "recover needs cluster or prune-channels before it; it is the first step")
    assert files_in(out_dir) == []


def test_segview_compress_without_torch_says_how_to_install_it_before_any_work(monkeypatch, capsys, tiny_model, calib_dir, out_dir):
    from segview.cli.main import main

    monkeypatch.setattr(availability, "torch_available", lambda: False)
    code = main(["compress", "--model", str(tiny_model), "--step", PRUNE_TEXT, "--step", "recover:steps=2", "--calib", str(calib_dir), "--out", str(out_dir)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and err == ["segview: error: recover needs PyTorch: pip install 'segview[distill]'"]
    assert files_in(out_dir) == []
