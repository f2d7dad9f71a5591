"""The bad model zoo (tests/bad_models.py) through the registry, ``segview models``, bench, eval and compress.

Every bad file is skipped with its reason and never stops the good models beside it;
every command that names one fails with one clear line, no traceback and no hang.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

from bad_models import TAILS, activation_then_tail, build_zoo, good_model, usable_cases
from cli_tools import assert_one_line_error, run_segview
from factories import bright_square_frame, write_images
from segview.errors import ModelError
from segview.inference.inspect import describe_model
from segview.inference.registry import ModelRegistry
from segview.inference.session import SegmentationSession, SessionOptions
from segview.metrics.iou import binary_iou
from segview.pipeline import Pipeline
from segview.sources import open_source

# Generous: a hang is what these tests look for, and CI's two cores are busy.
TIMEOUT = 60
LISTING = [c for c in usable_cases() if c.stage == "listing"]
RUNNING = [c for c in usable_cases() if c.stage == "running"]
# A few listing cases of each kind also go through eval and compress (they share the registry's path).
SAMPLE = {
    "card-input-string",
    "card-width-1e999",
    "onnx-fifo",
    "onnx-dev-zero",
    "onnx-symlink-loop",
    "output-300000000-classes",
    "input-20000-no-card",
    "external-dotdot",
}
FAST_COMPRESS = ["--step", "fp16", "--rounds", "2", "--runs", "2", "--threads", "1"]


def _ids(cases):
    return [c.name for c in cases]


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    folder = tmp_path_factory.mktemp("bad-zoo") / "zoo"
    return folder, build_zoo(folder)


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Three frames and their masks (the brightness model's 'person' is the bright square)."""
    root = tmp_path_factory.mktemp("labelled")
    images, masks = root / "images", root / "masks"
    masks.mkdir()
    frames = [bright_square_frame(64, 48) for _ in range(3)]
    for path, frame in zip(write_images(images, frames), frames, strict=True):
        cv2.imwrite(str(masks / path.name), np.where(frame[..., 0] > 128, 255, 0).astype(np.uint8))
    return images, masks


def _within(seconds: float, work):
    """work(), failing the test instead of hanging it (a FIFO read blocks forever)."""
    done: list = []
    thread = threading.Thread(target=lambda: done.append(work()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert done, f"still running after {seconds} s: a hang"
    return done[0]


def _env(folder: Path) -> dict[str, str]:
    return dict(os.environ, SEGVIEW_MODEL_PATH=str(folder))


def _reference(case, paths: dict[str, Path]) -> str:
    """What a user types: the path for a file the registry skips, the name for one it lists."""
    return str(paths[case.name]) if case.stage == "listing" else paths[case.name].stem


# -- the registry ----------------------------------------------------------------


@pytest.mark.parametrize("case", LISTING, ids=_ids(LISTING))
def test_registry_skips_the_bad_file_with_its_reason_and_keeps_the_good_one(case, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    good_model(folder)
    bad = case.build(folder)
    registry = _within(TIMEOUT, lambda: ModelRegistry([folder]))
    assert registry.names() == ["good"]
    reasons = {r.path.name: r.reason for r in registry.rejected}
    assert case.reason.lower() in reasons[bad.name].lower(), reasons
    with pytest.raises(ModelError) as caught:
        registry.resolve(str(bad))
    assert case.reason.lower() in str(caught.value).lower()
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("case", RUNNING, ids=_ids(RUNNING))
def test_registry_lists_models_that_only_fail_when_run(case, tmp_path):
    bad = case.build(tmp_path)
    assert ModelRegistry([tmp_path]).resolve(bad.stem).path == bad.resolve()


# -- the command line ----------------------------------------------------------


def test_models_lists_every_bad_file_as_skipped_and_the_good_ones_as_usable(zoo):
    folder, paths = zoo
    proc = run_segview("models", env=_env(folder), timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    skipped = {line.split(": ", 1)[0].removeprefix("skipped "): line for line in proc.stdout.splitlines() if line.startswith("skipped ")}
    for case in LISTING:
        line = skipped[str(paths[case.name])]
        assert case.reason.lower() in line.lower(), line
    table = [line.split()[0] for line in proc.stdout.splitlines() if line and not line.startswith("skipped ")]
    assert {"good", "good-external", "selfie-general", *(paths[c.name].stem for c in RUNNING)} <= set(table)
    assert not set(table) & {paths[c.name].stem for c in LISTING}


@pytest.mark.parametrize("case", usable_cases(), ids=_ids(usable_cases()))
def test_bench_refuses_the_bad_model_in_one_line(case, zoo):
    folder, paths = zoo
    proc = run_segview("bench", "--model", _reference(case, paths), "--frames", 3, "--warmup", 0, env=_env(folder), timeout=TIMEOUT)
    assert_one_line_error(proc, case.reason)


SAMPLED = [c for c in usable_cases() if c.name in SAMPLE or c.stage == "running"]


@pytest.mark.parametrize("case", SAMPLED, ids=_ids(SAMPLED))
def test_eval_refuses_the_bad_model_in_one_line(case, zoo, labelled):
    folder, paths = zoo
    images, masks = labelled
    proc = run_segview("eval", "--model", _reference(case, paths), "--images", images, "--masks", masks, env=_env(folder), timeout=TIMEOUT)
    assert_one_line_error(proc, case.reason)


@pytest.mark.parametrize("case", RUNNING, ids=_ids(RUNNING))
def test_one_model_error_gives_one_exit_status_in_bench_and_eval(case, zoo, labelled):
    # Issue 13.19: the same run-time model error exited 1 in bench and 2 in eval.
    folder, paths = zoo
    images, masks = labelled
    bench = run_segview("bench", "--model", _reference(case, paths), "--frames", 3, "--warmup", 0, env=_env(folder), timeout=TIMEOUT)
    evaluation = run_segview("eval", "--model", _reference(case, paths), "--images", images, "--masks", masks, env=_env(folder), timeout=TIMEOUT)
    assert bench.returncode == evaluation.returncode == 2, (bench.stderr, evaluation.stderr)


@pytest.mark.parametrize("case", SAMPLED, ids=_ids(SAMPLED))
def test_compress_refuses_the_bad_model_in_one_line_and_writes_nothing(case, zoo, tmp_path):
    folder, paths = zoo
    out = tmp_path / "out"
    proc = run_segview("compress", "--model", _reference(case, paths), *FAST_COMPRESS, "--out", out, env=_env(folder), timeout=TIMEOUT)
    assert_one_line_error(proc, case.reason)
    assert not list(out.glob("*.onnx")) if out.exists() else True


def test_good_models_on_the_same_path_still_bench_and_eval(zoo, labelled):
    folder, _ = zoo
    images, masks = labelled
    for model in ("selfie-general", "good", "good-external"):
        proc = run_segview("bench", "--model", model, "--frames", 3, "--warmup", 0, env=_env(folder), timeout=TIMEOUT)
        assert proc.returncode == 0, proc.stderr
        assert model in proc.stdout
    proc = run_segview("eval", "--model", "good", "--images", images, "--masks", masks, env=_env(folder), timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr


def test_compress_reads_external_data_beside_the_model_from_any_folder(zoo, tmp_path):
    folder, _ = zoo
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    proc = run_segview(
        "compress", "--model", folder / "good-external.onnx", *FAST_COMPRESS, "--out", out, "--name", "small", env=_env(folder), cwd=elsewhere, timeout=TIMEOUT
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "small.onnx").is_file()
    assert ModelRegistry([out]).resolve("small").card.output_kind == "sigmoid"


# -- the output kind behind value-preserving ops (Sigmoid -> Transpose in NHWC exports) --


@pytest.mark.parametrize("tail", TAILS)
def test_a_sigmoid_behind_a_value_preserving_op_is_a_probability_not_logits(tail, tmp_path):
    path = activation_then_tail(tmp_path / "nhwc.onnx", tail)
    card = describe_model(path)
    assert (card.layout, card.output_kind) == ("NHWC", "sigmoid")
    # Taken as logits, sigmoid would be applied twice: every pixel >= 0.5, the whole frame 'person'.
    frame = bright_square_frame(64, 48)
    mask = SegmentationSession(path, card, SessionOptions(threads=1)).segment(frame).mask
    assert binary_iou(mask > 0, frame[..., 0] > 128) > 0.95


@pytest.mark.parametrize("tail", ["Identity", "Transpose"])
def test_a_softmax_behind_a_value_preserving_op_is_softmax(tail, tmp_path):
    card = describe_model(activation_then_tail(tmp_path / "classes.onnx", tail, activation="Softmax"))
    assert (card.output_kind, len(card.classes)) == ("softmax", 3)


def test_a_graph_without_an_activation_is_still_logits(tmp_path):
    path = activation_then_tail(tmp_path / "logits.onnx", "Identity")
    model = onnx.load(str(path))
    sigmoid = next(n for n in model.graph.node if n.op_type == "Sigmoid")
    sigmoid.op_type = "Relu"
    onnx.save(model, str(path))
    assert describe_model(path).output_kind == "logits"


# -- a real output that is not what the graph declares --------------------------------


def test_the_first_run_checks_the_real_output_shape(tmp_path):
    case = next(c for c in RUNNING if c.name == "output-lies-about-shape")
    path = case.build(tmp_path)
    session = SegmentationSession(path, describe_model(path), SessionOptions(threads=1))
    with pytest.raises(ModelError, match=r"declared \[1, 1, 32, 32\] but the graph returns \[1, 1000\]"):
        session.segment(bright_square_frame(64, 48))


def test_a_good_model_passes_the_output_check_on_every_frame(brightness_model):
    session = SegmentationSession(brightness_model, describe_model(brightness_model), SessionOptions(threads=1))
    masks = [session.segment(bright_square_frame(64, 48)).mask for _ in range(3)]
    assert all(m.shape == (48, 64) for m in masks)


# -- a worker that dies is a reported failure, never a clean end ----------------------


def _failing_postprocess(output, frame_size):
    # A genuine cv2.error, as a card that does not match its graph gave inside cv2.resize.
    return cv2.resize(np.zeros((0, 0), np.float32), frame_size), None


@pytest.mark.parametrize("workers", [1, 2])
def test_an_exception_in_a_worker_stops_the_pipeline_and_names_the_model(workers, brightness_model, square_video):
    session = SegmentationSession(brightness_model, describe_model(brightness_model), SessionOptions(threads=1))
    session.postprocess = _failing_postprocess
    finished = []
    pipeline = Pipeline(open_source(str(square_video)), [session], workers=workers, on_finished=finished.append)
    stats = pipeline.run()
    assert finished == [stats]
    assert stats.problems, "the worker's death was reported as a clean end"
    assert stats.problems[0].startswith(f"{session.name} failed on frame ")
    assert "error" in stats.problems[0]
    assert stats.frames_processed < stats.frames_captured or stats.frames_processed == 0


# -- the studio ------------------------------------------------------------------


def test_the_studio_runs_a_good_model_with_the_zoo_on_its_path(zoo, tmp_path):
    folder, _ = zoo
    env = dict(_env(folder), QT_QPA_PLATFORM="offscreen")
    proc = run_segview("studio", "--source", "demo", "--model", "good", "--duration", "2", env=env, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_studio_names_a_model_whose_worker_failed(zoo, tmp_path):
    folder, _ = zoo
    case = next(c for c in RUNNING if c.name == "output-dynamic-card-lies")
    env = dict(_env(folder), QT_QPA_PLATFORM="offscreen")
    proc = run_segview("studio", "--source", "demo", "--model", case.name, "--duration", "4", env=env, timeout=TIMEOUT)
    assert_one_line_error(proc, case.reason)
    assert "demo ended" not in proc.stderr
