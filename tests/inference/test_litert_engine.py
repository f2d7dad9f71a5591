"""The LiteRT engine (``ai-edge-litert``, an optional extra) for ``.tflite`` models: its answer is
onnxruntime's on the same network, its card is read or inferred, it joins the sweep grid, and a
missing install or a model in the wrong format is one line. Skipped where ai-edge-litert is absent."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import factories
from cli_tools import assert_one_line_error, run_segview
from segview.bench import BenchOptions
from segview.bench_sweep import run_sweep, sweep_grid
from segview.errors import ModelError
from segview.inference import litert_engine
from segview.inference.engines import get_engine
from segview.inference.inspect import describe_model
from segview.inference.litert_engine import tflite_card, tflite_entry
from segview.inference.registry import ModelRegistry

LITERT = importlib.util.find_spec("ai_edge_litert") is not None
needs_litert = pytest.mark.skipif(not LITERT, reason="ai-edge-litert is an optional engine, not installed here")


def brightness_tflite(path: Path, *, size: int = 32) -> Path:
    """factories.brightness_model as a .tflite: sigmoid(20 * (mean(R,G,B) - 0.5)), N,H,W,3 in, N,H,W,1 out.

    Written with LiteRT's own flatbuffer schema (no converter needed): a 1x1 CONV_2D and a LOGISTIC.
    """
    import flatbuffers
    from ai_edge_litert import schema_py_generated as tfl

    def tensor(name, shape, buffer):
        t = tfl.TensorT()
        t.name, t.shape, t.type, t.buffer = name.encode(), list(shape), tfl.TensorType.FLOAT32, buffer
        return t

    def op(code, inputs, outputs, options_type=tfl.BuiltinOptions.NONE, options=None):
        o = tfl.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs, o.builtinOptionsType, o.builtinOptions = code, inputs, outputs, options_type, options
        return o

    def code(builtin):
        c = tfl.OperatorCodeT()
        c.builtinCode, c.deprecatedBuiltinCode, c.version = builtin, builtin, 1
        return c

    def buffer(array=None):
        b = tfl.BufferT()
        b.data = None if array is None else np.frombuffer(array.astype(np.float32).tobytes(), np.uint8)
        return b

    graph = tfl.SubGraphT()
    graph.tensors = [
        tensor("input", (1, size, size, 3), 0),
        tensor("w", (1, 1, 1, 3), 1),
        tensor("b", (1,), 2),
        tensor("logit", (1, size, size, 1), 0),
        tensor("prob", (1, size, size, 1), 0),
    ]
    conv = tfl.Conv2DOptionsT()
    conv.padding, conv.strideW, conv.strideH = tfl.Padding.VALID, 1, 1
    graph.operators = [op(0, [0, 1, 2], [3], tfl.BuiltinOptions.Conv2DOptions, conv), op(1, [3], [4])]
    graph.inputs, graph.outputs = [0], [4]
    model = tfl.ModelT()
    model.version, model.subgraphs = 3, [graph]
    model.operatorCodes = [code(tfl.BuiltinOperator.CONV_2D), code(tfl.BuiltinOperator.LOGISTIC)]
    model.buffers = [buffer(), buffer(np.full(3, 20.0 / 3.0)), buffer(np.array([-10.0]))]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))
    return path


@pytest.fixture
def twins(model_dir):
    """The brightness network as bright.onnx (with its card) and bright.tflite beside it (no card)."""
    onnx_path = factories.brightness_model(model_dir / "bright.onnx")
    factories.write_card(onnx_path, name="bright", title="bright squares")
    return onnx_path, brightness_tflite(model_dir / "bright.tflite")


@needs_litert
def test_litert_gives_onnxruntimes_answer(twins):
    onnx_path, tflite_path = twins
    registry = ModelRegistry([])
    entry = tflite_entry(tflite_path, registry)
    tensor = np.random.default_rng(3).random((1, 32, 32, 3), np.float32)
    theirs = get_engine("litert").make_session(entry.path, entry.card, threads=1).run(tensor)
    ours = get_engine("ort").make_session(onnx_path, describe_model(onnx_path), threads=1).run(np.ascontiguousarray(tensor.transpose(0, 3, 1, 2)))
    assert theirs.shape == (1, 32, 32, 1)
    np.testing.assert_allclose(theirs[..., 0], ours[:, 0], atol=1e-5)


@needs_litert
def test_a_frame_segments_as_with_onnxruntime(twins):
    onnx_path, tflite_path = twins
    entry = tflite_entry(tflite_path, ModelRegistry([]))
    frame = factories.bright_square_frame(box=(40, 30, 60, 50))
    theirs = get_engine("litert").make_session(entry.path, entry.card, threads=1).segment(frame)
    ours = get_engine("ort").make_session(onnx_path, describe_model(onnx_path), threads=1).segment(frame)
    assert theirs.mask.shape == frame.shape[:2] and theirs.mask.any() and not theirs.mask.all()
    assert (theirs.mask == ours.mask).mean() > 0.999


@needs_litert
def test_the_card_is_inferred_with_the_twins_fields(tmp_path, model_dir):
    solo = tmp_path / "solo"
    solo.mkdir()
    tflite_path = brightness_tflite(solo / "bright.tflite")  # no card beside it
    lone = tflite_card(tflite_path)
    assert (lone.layout, lone.width, lone.height, lone.input_name, lone.output_name) == ("NHWC", 32, 32, "input", "prob")
    assert lone.output_kind == "sigmoid" and lone.origin == "inferred"  # the graph ends in LOGISTIC
    # A registered ONNX model whose card names this file as its source is its conversion: its fields fill the card.
    onnx_path = factories.brightness_model(model_dir / "converted.onnx")
    factories.write_card(onnx_path, name="converted", title="bright squares", source="made from somewhere/bright.tflite")
    paired = tflite_entry(tflite_path, ModelRegistry([model_dir])).card
    assert paired.title == "bright squares" and paired.source == "bright.tflite (card from converted)" and paired.layout == "NHWC"
    assert tflite_entry(tflite_path, ModelRegistry([])).card.title == ""


@needs_litert
def test_a_card_shared_with_the_onnx_twin_takes_the_tflites_layout(twins):
    _, tflite_path = twins  # bright.json is bright.onnx's card (NCHW)
    card = tflite_card(tflite_path)
    assert (card.name, card.layout, card.origin, card.title) == ("bright", "NHWC", "card", "bright squares")


@needs_litert
def test_a_card_beside_the_tflite_is_read(twins):
    _, tflite_path = twins
    factories.write_card(
        tflite_path,
        name="bright-tflite",
        output={"name": "prob", "kind": "logits", "classes": ["background", "person"]},
        input={"name": "input", "width": 32, "height": 32, "layout": "NHWC", "color_order": "BGR"},
    )
    card = tflite_card(tflite_path)
    assert (card.name, card.output_kind, card.color_order, card.origin) == ("bright-tflite", "logits", "BGR", "card")


@needs_litert
def test_litert_joins_the_sweep_grid_with_the_onnx_twin(twins, square_video):
    onnx_path, tflite_path = twins
    grid = sweep_grid(["ort", "litert"], ["cpu"], [1], [1])
    options = BenchOptions(source=str(square_video), models=[str(tflite_path)], frames=5, warmup=1, rounds=2)
    report = run_sweep(options, grid, ModelRegistry([]))
    assert report.models == ["bright"] and report.orders == [[0, 1], [1, 0]]
    assert report.frames["bright"] == [[5, 5], [5, 5]]  # ort (on bright.onnx) and litert (on bright.tflite), every round
    assert any(w.startswith("ort runs bright.onnx for bright") for w in report.warnings)


@needs_litert
def test_cli_sweep_with_litert(twins, square_video):
    _, tflite_path = twins
    proc = run_segview(
        "bench",
        "--source",
        square_video,
        "--model",
        tflite_path,
        "--engine",
        "ort,litert",
        "--threads",
        1,
        "--workers",
        1,
        "--frames",
        4,
        "--warmup",
        1,
        "--rounds",
        2,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines() if line.startswith(("ort ", "litert "))]
    assert [r[0] for r in rows] == ["ort", "litert"] and all(float(r[4]) > 0 for r in rows)


@needs_litert
def test_a_plain_bench_of_a_tflite_runs_it_on_litert(twins, square_video):
    _, tflite_path = twins
    proc = run_segview("bench", "--source", square_video, "--model", tflite_path, "--frames", 4, "--warmup", 1, "--rounds", 2, timeout=180)
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines() if line.startswith(("ort ", "litert "))]
    assert [r[0] for r in rows] == ["litert"] and float(rows[0][4]) > 0


@needs_litert
def test_an_onnx_model_without_a_tflite_twin_is_one_line(brightness_model, square_video):
    assert_one_line_error(
        run_segview("bench", "--source", square_video, "--model", brightness_model, "--engine", "litert", timeout=60),
        "litert reads .tflite models and bright is ONNX",
    )


@needs_litert
def test_a_tflite_without_an_onnx_twin_under_ort_is_one_line(tmp_path):
    lone = brightness_tflite(tmp_path / "lone.tflite")
    entry = tflite_entry(lone, ModelRegistry([]))
    grid = sweep_grid(["ort"], ["cpu"], [1], [1])
    with pytest.raises(ModelError, match="^ort reads ONNX models and no ONNX conversion of lone.tflite is known"):
        run_sweep(BenchOptions(source="demo", models=[str(entry.path)], frames=2, warmup=0, rounds=1), grid, ModelRegistry([]))


def test_without_ai_edge_litert_a_tflite_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(litert_engine, "litert_installed", lambda: False)
    model = tmp_path / "m.tflite"
    model.write_bytes(b"TFL3 not really")
    with pytest.raises(ModelError, match=r"^m.tflite is a LiteRT model and ai-edge-litert is not installed: pip install 'segview\[litert\]'"):
        tflite_card(model)
    with pytest.raises(ModelError, match=r"^ai-edge-litert is not installed: pip install 'segview\[litert\]' \(or pip install ai-edge-litert\)$"):
        get_engine("litert")


@pytest.mark.skipif(LITERT, reason="ai-edge-litert is installed here")
def test_bench_engine_litert_when_absent(tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(b"TFL3")
    assert_one_line_error(run_segview("bench", "--model", model, "--engine", "litert", timeout=60), "ai-edge-litert is not installed: pip install")


def test_providers_lists_litert():
    proc = run_segview("providers", timeout=60)
    assert proc.returncode == 0, proc.stderr
    line = next(line for line in proc.stdout.splitlines() if line.startswith("litert"))
    assert ("present" in line) if LITERT else ("pip install" in line)
