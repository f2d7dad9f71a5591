"""``segview bench`` sweeps (threads x workers x provider x engine) and the engine interface:
every cell runs, the order alternates, the fastest is the highest median; never absolute speed."""

import importlib.util
import statistics

import numpy as np
import pytest

import factories
from cli_tools import assert_one_line_error, run_bench_json, run_segview
from segview.bench import BenchOptions
from segview.bench_sweep import run_sweep, sweep_grid
from segview.errors import ModelError
from segview.inference.engines import OpenVinoEngine, get_engine
from segview.inference.inspect import describe_model
from segview.inference.registry import ModelRegistry


@pytest.fixture
def two_models(model_dir):
    return factories.brightness_model(model_dir / "small.onnx", size=16), factories.brightness_model(model_dir / "large.onnx", size=32)


def test_every_cell_runs_each_round_and_the_order_alternates(two_models, square_video):
    grid = sweep_grid(["ort"], ["cpu"], [1, 2], [1, 2])
    options = BenchOptions(source=str(square_video), models=[str(p) for p in two_models], frames=6, warmup=1, rounds=3)
    seen = []
    report = run_sweep(options, grid, ModelRegistry(), progress=lambda done, total: seen.append((done, total)))
    assert len(grid) == 4 and {(s.workers, s.threads) for s in grid} == {(1, 1), (1, 2), (2, 1), (2, 2)}
    assert report.orders == [[0, 1, 2, 3], [3, 2, 1, 0], [0, 1, 2, 3]]
    for model in ("small", "large"):
        # 3 rounds of every cell, each run one model alone for exactly the frames asked.
        assert [len(r) for r in report.fps[model]] == [3] * 4
        assert report.frames[model] == [[6, 6, 6]] * 4
    assert report.threads_used == [1, 2, 1, 2]
    assert seen[-1] == (3 * 4 * 2 * 6, 3 * 4 * 2 * 6)


def test_json_fastest_is_the_highest_median(two_models, square_video, tmp_path):
    proc, report = run_bench_json(
        tmp_path / "sweep.json", square_video, two_models, "--threads", "1,2", "--frames", 6, "--warmup", 1, "--rounds", 2, timeout=180
    )
    assert report["mode"] == "sweep" and report["round_orders"] == [[0, 1], [1, 0]]
    for model in report["models"]:
        cells = model["cells"]
        assert [c["threads"] for c in cells] == [1, 2] and all(c["frames_per_round"] == [6, 6] for c in cells)
        medians = [statistics.median(c["fps_per_round"]) for c in cells]
        assert [c["fps_median"] for c in cells] == pytest.approx(medians, rel=1e-3)
        best = max(range(len(cells)), key=lambda i: medians[i])
        assert cells[best]["ratio_to_best"] == 1.0 and all(c["ratio_to_best"] <= 1.0 for c in cells)
        assert model["fastest"].startswith(f"ort cpu {cells[best]['workers']} worker(s) x {cells[best]['threads']} thread(s)")
        assert f"fastest for {model['model']} here: {model['fastest']}" in proc.stdout


def test_a_single_value_is_the_plain_bench(brightness_model, square_video, tmp_path):
    _, report = run_bench_json(
        tmp_path / "one.json", square_video, [brightness_model], "--threads", 2, "--workers", 1, "--frames", 5, "--warmup", 1, timeout=120
    )
    assert report["mode"] == "shared" and report["settings"]["threads_per_run"] == 2 and report["settings"]["workers"] == 1


@pytest.mark.parametrize(("value", "fragment"), [("0,2", "0 is out of range"), ("a", "'a' is not a whole number"), ("1,,2", "empty item")])
def test_invalid_thread_lists_are_one_line(brightness_model, value, fragment):
    proc = run_segview("bench", "--model", brightness_model, "--threads", value, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("segview bench: error: argument --threads: ") and fragment in line


def test_the_ort_engine_runs_through_the_interface(brightness_model):
    engine = get_engine("onnxruntime")
    session = engine.make_session(brightness_model, describe_model(brightness_model), threads=1)
    out = session.run(np.ones(session.input_tensor_shape(), np.float32))
    assert engine.name == "ort" and out.shape == (1, 1, 32, 32) and float(out.min()) > 0.99  # bright input: 'person'


def test_openvino_absent_is_one_named_line(monkeypatch):
    monkeypatch.setattr(OpenVinoEngine, "available", lambda self: False)
    with pytest.raises(ModelError, match="^openvino is not installed: pip install openvino$"):
        get_engine("openvino")


@pytest.mark.skipif(importlib.util.find_spec("openvino") is not None, reason="openvino is installed here")
def test_bench_engine_openvino_when_absent(brightness_model):
    assert_one_line_error(
        run_segview("bench", "--model", brightness_model, "--engine", "ort,openvino", timeout=60), "openvino is not installed: pip install openvino"
    )


def test_unknown_engine_is_named(brightness_model):
    assert_one_line_error(run_segview("bench", "--model", brightness_model, "--engine", "tflite", timeout=60), "unknown engine 'tflite'")


@pytest.mark.skipif(importlib.util.find_spec("openvino") is None, reason="openvino is an optional engine, not installed here")
def test_openvino_gives_onnxruntimes_answer(brightness_model):
    card = describe_model(brightness_model)
    tensor = np.random.default_rng(1).random((1, 3, 32, 32), np.float32)
    ours = get_engine("ort").make_session(brightness_model, card, threads=1).run(tensor)
    theirs = get_engine("openvino").make_session(brightness_model, card, threads=1).run(tensor)
    np.testing.assert_allclose(theirs, ours, atol=1e-4)


def test_providers_lists_onnxruntimes_and_the_engines():
    import onnxruntime

    proc = run_segview("providers", timeout=60)
    assert proc.returncode == 0, proc.stderr
    for provider in onnxruntime.get_available_providers():
        assert provider in proc.stdout
    assert "ort" in proc.stdout and onnxruntime.__version__ in proc.stdout
    openvino_line = next(line for line in proc.stdout.splitlines() if line.startswith("openvino"))
    present = importlib.util.find_spec("openvino") is not None
    assert ("present" in openvino_line) if present else ("pip install openvino" in openvino_line)
