"""segview profile: onnxruntime's per-node profile of real sessions on tiny generated models, and the
diff of a float model with its int8 (dynamic) variant, matched node by node."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import factories
from cli_tools import assert_one_line_error, run_segview
from factories import moving_square_frames, write_card
from segview.errors import SegviewError
from segview.inference.registry import ModelRegistry
from segview.profiling import diff_profiles, profile_model

SIZE = 32


def _save(nodes, inits, name: str, path: Path) -> Path:
    """A SIZE x SIZE mask model of ``nodes``, with its card."""
    factories._save(factories.mask_model(nodes, name, inits, size=SIZE), path)
    write_card(path)
    return path


def conv_model(path: Path) -> Path:
    """Conv+Relu, a depthwise Conv, a residual Add, a 1x1 head and a Sigmoid; nodes named as converters name them."""
    rng = np.random.default_rng(3)
    shapes = {"w1": (8, 3, 3, 3), "b1": (8,), "wdw": (8, 1, 3, 3), "wh": (1, 8, 1, 1)}
    inits = [numpy_helper.from_array(rng.normal(0, 0.5, s).astype(np.float32), n) for n, s in shapes.items()]
    nodes = [
        helper.make_node("Conv", ["input", "w1", "b1"], ["c1"], name="c1", pads=[1] * 4),
        helper.make_node("Relu", ["c1"], ["r1"], name="r1"),
        helper.make_node("Conv", ["r1", "wdw"], ["dw"], name="dw", pads=[1] * 4, group=8),
        helper.make_node("Add", ["dw", "r1"], ["add"], name="add"),
        helper.make_node("Conv", ["add", "wh"], ["head"], name="head"),
        helper.make_node("Sigmoid", ["head"], ["prob"], name="sig"),
    ]
    return _save(nodes, inits, "conv", path)


def elementwise_model(path: Path) -> Path:
    """Nodes onnxruntime runs one kernel each (nothing to fuse): the profile must list every one."""
    inits = [numpy_helper.from_array(np.full((1, 3, 1, 1), v, np.float32), n) for n, v in (("gain", 2.0), ("bias", -1.0))]
    nodes = [
        helper.make_node("Mul", ["input", "gain"], ["scaled"], name="scale"),
        helper.make_node("Add", ["scaled", "bias"], ["shifted"], name="shift"),
        helper.make_node("Tanh", ["shifted"], ["squashed"], name="squash"),
        helper.make_node("ReduceMean", ["squashed"], ["mean"], name="mean", axes=[1], keepdims=1),
        helper.make_node("Sigmoid", ["mean"], ["prob"], name="sig"),
    ]
    return _save(nodes, inits, "elementwise", path)


def int8_variant(source: Path, path: Path) -> Path:
    from onnxruntime.quantization import quantize_dynamic

    quantize_dynamic(str(source), str(path))
    write_card(path)
    return path


@pytest.fixture
def frames() -> list[np.ndarray]:
    return moving_square_frames(4)


def _entry(path: Path):
    return ModelRegistry([]).resolve(str(path))


def test_profile_lists_every_node_once_with_shares_summing_to_one(tmp_path, frames):
    path = elementwise_model(tmp_path / "elementwise.onnx")
    profile = profile_model(_entry(path), frames, runs=7, warmup=3)
    graph_nodes = {(n.name, n.op_type) for n in onnx.load(str(path)).graph.node}
    assert {(n.graph_node, n.op_type) for n in profile.nodes} == graph_nodes
    assert len(profile.nodes) == len(graph_nodes)
    assert sum(n.share for n in profile.nodes) == pytest.approx(1.0)
    assert [n.median_ms for n in profile.nodes] == sorted((n.median_ms for n in profile.nodes), reverse=True)
    # onnxruntime times kernels in whole microseconds: a tiny node may read 0.
    assert all(n.p90_ms >= n.median_ms >= 0 for n in profile.nodes)
    scale = next(n for n in profile.nodes if n.graph_node == "scale")
    assert scale.input_shapes == (f"float[1,3,{SIZE},{SIZE}]", "float[1,3,1,1]")
    by_type = profile.by_op_type()
    assert sorted(op for op, *_ in by_type) == sorted(op for _, op in graph_nodes)
    assert sum(share for _, _, share, _ in by_type) == pytest.approx(1.0)


def test_warmup_runs_are_left_out_and_both_sessions_measured(tmp_path, frames, monkeypatch):
    import segview.profiling.op_profile as op_profile

    seen = []
    real = op_profile.runs_from_events
    monkeypatch.setattr(op_profile, "runs_from_events", lambda events: seen.append(r := real(events)) or r)
    profile = profile_model(_entry(elementwise_model(tmp_path / "m.onnx")), frames, runs=6, warmup=4)
    assert profile.runs == 6
    assert len(seen[0]) == 10  # the profile file holds all ten runs; the first four are dropped
    assert profile.unprofiled_median_ms is not None and profile.unprofiled_median_ms > 0
    assert profile.wall_median_ms >= profile.node_sum_median_ms > 0
    assert 0.0 <= profile.overhead() < 1.0
    data = json.loads(json.dumps(profile.as_dict()))
    assert len(data["nodes"]) == len(profile.nodes) and data["runs"] == 6


def test_diff_matches_int8_convs_with_their_float_twins(tmp_path, frames):
    base_path = conv_model(tmp_path / "float.onnx")
    other_path = int8_variant(base_path, tmp_path / "int8.onnx")
    base = profile_model(_entry(base_path), frames, runs=5, warmup=2)
    other = profile_model(_entry(other_path), frames, runs=5, warmup=2)
    diff = diff_profiles(base, other)
    matched = {row.key: row for row in diff.matched_rows()}
    # Each float Conv (fused with its Relu, its Add or its Sigmoid) meets its ConvInteger twin.
    assert {"c1", "dw", "head"} <= set(matched)
    for key in ("c1", "dw", "head"):
        assert matched[key].op_type.startswith("Conv → ConvInteger"), matched[key]
        assert matched[key].delta_ms == pytest.approx(matched[key].other_ms - matched[key].base_ms)
    # The quantizer's own nodes have no float twin: rows of the int8 side only.
    quantize = [r for r in diff.rows if "QuantizeLinear" in r.op_type]
    assert quantize and all(r.base_ms is None and r.other_ms >= 0 for r in quantize)
    assert [abs(r.delta_ms) for r in diff.rows] == sorted((abs(r.delta_ms) for r in diff.rows), reverse=True)
    conv = next(t for t in diff.op_types if t.op_type == "Conv")
    assert conv.base_count == 3 and conv.other_count == 3
    total = sum(t.delta_ms for t in diff.op_types)
    assert total == pytest.approx(sum(n.median_ms for n in other.nodes) - sum(n.median_ms for n in base.nodes))


def test_no_frames_is_refused(tmp_path):
    with pytest.raises(SegviewError, match="no frames"):
        profile_model(_entry(elementwise_model(tmp_path / "m.onnx")), [])


def test_cli_round_trip_json_and_csv(tmp_path):
    base = conv_model(tmp_path / "float.onnx")
    other = int8_variant(base, tmp_path / "int8.onnx")
    out_json, out_csv = tmp_path / "p.json", tmp_path / "p.csv"
    proc = run_segview("profile", "--model", base, "--model", other, "--frames", 3, "--runs", 4, "--top", 5, "--json", out_json, "--csv", out_csv)
    assert proc.returncode == 0, proc.stderr
    assert "profiling adds" in proc.stdout and "int8 against float" in proc.stdout
    data = json.loads(out_json.read_text())
    assert [p["model"] for p in data["profiles"]] == ["float", "int8"]
    assert [p["runs"] for p in data["profiles"]] == [4, 4]
    assert data["diffs"][0]["base"] == "float" and data["diffs"][0]["other"] == "int8"
    rows = list(csv.DictReader(out_csv.open()))
    nodes = [r for r in rows if r["section"] == "node"]
    assert len(nodes) == sum(len(p["nodes"]) for p in data["profiles"])
    assert len([r for r in rows if r["section"] == "diff_node"]) == len(data["diffs"][0]["rows"])


def test_cli_trace_holds_the_measured_runs_of_each_model(tmp_path):
    base = conv_model(tmp_path / "float.onnx")
    other = int8_variant(base, tmp_path / "int8.onnx")
    out_json, out_trace = tmp_path / "p.json", tmp_path / "p.trace.json"
    proc = run_segview("profile", "--model", base, "--model", other, "--frames", 2, "--runs", 3, "--json", out_json, "--trace", out_trace)
    assert proc.returncode == 0, proc.stderr
    events = json.loads(out_trace.read_text())["traceEvents"]
    names = {e["pid"]: e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    assert sorted(n.split(" ")[0] for n in names.values()) == ["float", "int8"]
    profiles = json.loads(out_json.read_text())["profiles"]
    for pid, profile in zip(sorted(names), profiles, strict=True):  # one profile per process
        runs = [e for e in events if e.get("pid") == pid and e.get("name") == "model_run"]
        kernels = [e for e in events if e.get("pid") == pid and e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
        assert len(runs) == 3  # the warm-up runs are left out, as in the tables
        assert len(kernels) == 3 * len(profile["nodes"])
        assert all({"ts", "dur", "ph"} <= set(e) for e in kernels)


def test_cli_unwritable_json_is_one_line_and_nothing_written(tmp_path):
    model = elementwise_model(tmp_path / "m.onnx")
    target = tmp_path / "missing" / "p.json"
    out_csv = tmp_path / "p.csv"
    proc = run_segview("profile", "--model", model, "--runs", 2, "--frames", 2, "--json", target, "--csv", out_csv)
    assert_one_line_error(proc, "cannot write")
    assert not target.exists() and not out_csv.exists()


def test_cli_unknown_model_is_one_line(tmp_path):
    assert_one_line_error(run_segview("profile", "--model", "no-such-model", "--runs", 2), "unknown model")


def test_cli_model_onnxruntime_cannot_load_is_one_line(tmp_path):
    """A node of a custom op domain: onnxruntime has no kernel for it, so it cannot be profiled."""
    node = helper.make_node("Glow", ["input"], ["prob"], name="glow", domain="com.example")
    model = helper.make_model(
        helper.make_graph(
            [node],
            "custom",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
            [helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, 1, SIZE, SIZE])],
        ),
        opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.example", 1)],
    )
    model.ir_version = 8
    path = tmp_path / "custom.onnx"
    onnx.save(model, str(path))
    write_card(path)
    proc = run_segview("profile", "--model", path, "--runs", 2, "--frames", 2)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "custom" in proc.stderr


def test_profile_file_is_written_privately_and_removed(tmp_path, frames, monkeypatch):
    import tempfile

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.chdir(tmp_path)
    profile_model(_entry(elementwise_model(tmp_path / "m.onnx")), frames, runs=2, warmup=1)
    assert list(scratch.iterdir()) == []
    # Only the model's card: no onnxruntime_profile_*.json in the working folder either.
    assert [p.name for p in tmp_path.glob("*.json")] == ["m.json"]


def test_span_cost_grows_with_inputs_and_never_goes_negative():
    from segview.profiling.span_cost import SpanCost

    cost = SpanCost(one_input_us=2.0, nine_inputs_us=4.0)
    assert [cost.for_inputs(k) for k in (0, 1, 5, 9, 13)] == pytest.approx([2.0, 2.0, 3.0, 4.0, 5.0])
    assert SpanCost(one_input_us=1.0, nine_inputs_us=0.0).for_inputs(40) == 0.0


def test_corrected_sum_takes_each_nodes_span_cost_off_its_recorded_time(tmp_path, frames, monkeypatch):
    import segview.profiling.op_profile as op_profile
    from segview.profiling.span_cost import SpanCost

    recorded = []
    real = op_profile.runs_from_events
    monkeypatch.setattr(op_profile, "runs_from_events", lambda events: recorded.append(r := real(events)) or r)
    # A known cost (1 us a node of one input, 9 us one of nine) in place of one measured on this busy machine.
    monkeypatch.setattr(op_profile, "span_cost_for", lambda threads: SpanCost(one_input_us=1.0, nine_inputs_us=9.0))
    profile = profile_model(_entry(elementwise_model(tmp_path / "m.onnx")), frames, runs=6, warmup=2)
    measured = recorded[0][2:]
    # Every node here has one or two inputs: 1 or 2 us off each (never below zero).
    expected = np.median([sum(max(0.0, n.duration_us - len(n.input_shapes)) for n in run.nodes.values()) / 1e3 for run in measured])
    assert profile.node_sum_corrected_median_ms == pytest.approx(expected)
    assert profile.node_sum_corrected_median_ms <= profile.node_sum_median_ms
    data = json.loads(json.dumps(profile.as_dict()))
    assert data["span_cost"] == {"one_input_us": 1.0, "nine_inputs_us": 9.0} and data["node_sum_corrected_median_ms"] == pytest.approx(expected)


def test_span_cost_is_measured_on_chains_the_profiler_records_in_full(monkeypatch):
    import segview.profiling.span_cost as span_cost

    seen = []
    real = span_cost.runs_from_events
    monkeypatch.setattr(span_cost, "runs_from_events", lambda events: seen.append(r := real(events)) or r)
    cost = span_cost.measure_span_cost(threads=1)
    for runs in seen:  # one chain per calibrated fan-in, every run and every node in the profile
        assert len(runs) == span_cost.CHAIN_WARMUP + span_cost.CHAIN_RUNS
        assert all(len(run.nodes) == span_cost.CHAIN_NODES for run in runs)
    assert len(seen) == len(span_cost.FAN_INS)
    assert np.isfinite([cost.one_input_us, cost.nine_inputs_us]).all() and min(cost.one_input_us, cost.nine_inputs_us) >= 0.0
