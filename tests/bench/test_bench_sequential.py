"""``segview bench --sequential`` and ``--duration``: structure, counts, order and arithmetic; never absolute speed."""

import math
import re

import numpy as np
import pytest

import factories
from cli_tools import assert_one_line_error, run_bench_json, run_segview
from segview.bench import BenchOptions, _Collector
from segview.bench_rounds import Comparison, Spread, round_order, run_sequential
from segview.cli.progress import ProgressBar
from segview.inference.registry import ModelRegistry
from segview.pipeline.pipeline import FrameResults
from segview.types import Frame, SegmentationResult, StageTimings


@pytest.fixture
def two_models(model_dir):
    a = factories.brightness_model(model_dir / "small.onnx", size=16)
    b = factories.brightness_model(model_dir / "large.onnx", size=64)
    return a, b


def test_sequential_json_rounds_alternate_and_the_ratio_is_the_quotient(two_models, square_video, tmp_path):
    proc, report = run_bench_json(tmp_path / "seq.json", square_video, two_models, "--sequential", "--frames", 15, "--warmup", 2, "--rounds", 3, timeout=120)
    assert report["mode"] == "sequential" and report["settings"]["rounds"] == 3 and report["settings"]["frames"] == 15
    assert [r["order"] for r in report["rounds"]] == [["small", "large"], ["large", "small"], ["small", "large"]]
    for r in report["rounds"]:
        # Each run is one model alone, measured for exactly the frames asked (warm-up left out).
        assert [run["model"] for run in r["runs"]] == r["order"]
        assert all(run["frames"] == 15 and run["fps"] > 0 for run in r["runs"])
    fps = {m["model"]: [run["fps"] for r in report["rounds"] for run in r["runs"] if run["model"] == m["model"]] for m in report["models"]}
    for m in report["models"]:
        values = fps[m["model"]]
        assert m["fps"]["rounds"] == 3
        assert m["fps"]["mean"] == pytest.approx(sum(values) / 3, rel=1e-3)
        assert (m["fps"]["min"], m["fps"]["max"]) == (min(values), max(values))
    (c,) = report["comparisons"]
    slower = c["slower"]
    assert {c["faster"], slower} == {"small", "large"}
    means = {m["model"]: m["fps"]["mean"] for m in report["models"]}
    assert means[c["faster"]] >= means[slower]
    assert c["ratio"] == pytest.approx(means[c["faster"]] / means[slower], rel=1e-3)
    assert c["per_round"] == pytest.approx([a / b for a, b in zip(fps[c["faster"]], fps[slower], strict=True)], rel=1e-3)
    assert "hyperfine" in report["sd_method"]
    # The comparison line on stdout is the JSON's, the way hyperfine words it.
    line = re.search(r"^(\S+) ran (\d+\.\d\d) ± (\d+\.\d\d) times faster than (\S+)$", proc.stdout, re.M)
    assert line, proc.stdout
    assert (line[1], line[4]) == (c["faster"], slower)
    assert float(line[2]) == pytest.approx(c["ratio"], abs=0.006)
    assert "(min … max:" in proc.stdout


def test_progress_counts_measured_frames_only(two_models, square_video):
    calls = []
    registry = ModelRegistry()
    options = BenchOptions(source=str(square_video), models=[str(p) for p in two_models], frames=6, warmup=4, rounds=2, workers=1)
    report = run_sequential(options, registry, progress=lambda done, total: calls.append((done, total)))
    assert [r.number for r in report.rounds] == [1, 2]
    # One call per measured frame: 2 rounds x 2 models x 6 frames; the warm-up frames are not counted.
    assert len(calls) == 24
    assert {total for _, total in calls} == {24}
    assert [done for done, _ in calls] == list(range(1, 25))


def test_sequential_with_a_duration(two_models, square_video, tmp_path):
    proc, report = run_bench_json(tmp_path / "seq.json", square_video, two_models, "--sequential", "--duration", 0.2, "--warmup", 1, "--rounds", 2, timeout=120)
    assert report["settings"]["duration_s"] == 0.2 and "frames" not in report["settings"]
    assert all(run["frames"] >= 2 for r in report["rounds"] for run in r["runs"])
    assert "0.2 s after 1 warm-up" in proc.stdout


def _bundle(index, t):
    frame = Frame(index, np.zeros((2, 2, 3), np.uint8), t)
    result = SegmentationResult("m", frame, np.zeros((2, 2), np.uint8), StageTimings(0.0, 0.0, 0.0, 1.0, 0.0, 1.0))
    return FrameResults(frame, (result,), t)


def test_duration_stops_once_measured_long_enough():
    # The collector's clock starts at the first measured frame (after warm-up) and stops the pipeline at the duration.
    stops, progress = [], []
    collector = _Collector(["m"], BenchOptions(source="demo", models=["m"], warmup=2, duration_s=1.0), lambda d, t: progress.append((d, t)))
    collector.stop = lambda: stops.append(True)
    for i, t in enumerate([0.0, 0.1, 5.0, 5.4, 5.9, 6.0, 6.2]):
        collector(_bundle(i, t))
    assert len(collector.rows["m"]) == 4  # 5.0 5.4 5.9 6.0; 6.2 came after the stop
    assert stops == [True]
    assert progress == [(0.0, 1.0), (pytest.approx(0.4), 1.0), (pytest.approx(0.9), 1.0), (1.0, 1.0)]


def test_round_order_alternates():
    assert [round_order(["a", "b", "c"], n) for n in (1, 2, 3, 4)] == [["a", "b", "c"], ["c", "b", "a"], ["a", "b", "c"], ["c", "b", "a"]]


def test_spread_and_comparison_arithmetic():
    a, b = Spread.of([200.0, 210.0, 190.0]), Spread.of([100.0, 104.0, 96.0])
    assert (a.mean, a.sd, a.low, a.high, a.count) == (200.0, 10.0, 190.0, 210.0, 3)
    c = Comparison.of("a", a, "b", b, [2.0, 210 / 104, 190 / 96])
    assert c.ratio == 2.0
    assert c.sd == pytest.approx(2.0 * math.sqrt((10 / 200) ** 2 + (4 / 100) ** 2))
    assert math.isnan(Spread.of([5.0]).sd) and Spread.of([]).count == 0


def test_progress_bar_shows_an_eta():
    bar = ProgressBar("bench", unit="frames")
    line = bar.line(50, 200, 10.0)
    assert "50/200 frames" in line and "5.0/s" in line and line.endswith("ETA 0:30")
    assert ProgressBar("bench", unit="s").line(3, 10, 6.0).endswith("3.0/10 s ETA 0:14")
    assert bar.line(0, 200, 0.0).endswith("ETA --:--")


def test_frames_and_duration_exclude_each_other(brightness_model):
    proc = run_segview("bench", "--model", brightness_model, "--frames", 10, "--duration", 2, timeout=60)
    assert proc.returncode == 2 and "not allowed with argument" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_rounds_need_sequential(brightness_model):
    assert_one_line_error(run_segview("bench", "--model", brightness_model, "--rounds", 3, timeout=60), "--rounds applies to --sequential")


def test_shared_bench_of_two_models_points_to_sequential(two_models, square_video):
    proc = run_segview("bench", "--source", square_video, "--model", two_models[0], "--model", two_models[1], "--frames", 5, "--warmup", 0, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "use --sequential" in proc.stdout


def test_shared_bench_with_a_duration(brightness_model, square_video, tmp_path):
    _, report = run_bench_json(tmp_path / "bench.json", square_video, [brightness_model], "--duration", 0.3, "--warmup", 2, timeout=60)
    assert report["mode"] == "shared" and report["settings"]["duration_s"] == 0.3 and "frames" not in report["settings"]
    assert report["models"][0]["frames"] >= 2
