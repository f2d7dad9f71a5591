"""Failures that used to pass in silence (issue 13.19): a screenshot that could never be saved, exit 0 and no
file; a failed run leaving behind the empty output folder it had just created."""

from __future__ import annotations

import os

import pytest

from cli_tools import assert_one_line_error, run_segview


def _studio(tmp_path, *args):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path / "home"))
    return run_segview("studio", "--source", "demo", *args, env=env, timeout=120)


@pytest.mark.parametrize(
    ("shot", "fragment"),
    [("missing/window.png", "does not exist"), ("window.txt", "give a file ending in .png"), ("window", "give a file ending in .png")],
)
def test_a_screenshot_that_cannot_be_saved_is_refused_before_the_run(tmp_path, brightness_model, shot, fragment):
    session = tmp_path / "session"
    proc = _studio(tmp_path, "--model", brightness_model, "--duration", "30", "--record", session, "--screenshot", tmp_path / shot)
    assert_one_line_error(proc, fragment)
    assert not session.exists()  # refused before anything ran or was recorded
    assert not (tmp_path / shot).exists()


def test_a_screenshot_in_a_known_format_is_written(tmp_path, brightness_model):
    shot = tmp_path / "window.JPG"
    proc = _studio(tmp_path, "--model", brightness_model, "--duration", "2", "--screenshot", shot)
    assert proc.returncode == 0, proc.stderr
    assert shot.stat().st_size > 1000


def test_a_failed_compress_removes_the_output_folders_it_created(tmp_path, brightness_model):
    empty = tmp_path / "no-images"
    empty.mkdir()
    (tmp_path / "existing").mkdir()
    out = tmp_path / "existing" / "new" / "deeper"
    proc = run_segview("compress", "--model", brightness_model, "--step", "int8-static", "--calib", empty, "--out", out)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "existing" / "new").exists()
    assert (tmp_path / "existing").is_dir()  # there before: left alone


def _reshape_failing_model(folder):
    """A graph onnxruntime loads but cannot run: Reshape to a shape of another size."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    import factories

    shape = numpy_helper.from_array(np.array([7, 5], np.int64), "shape")
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["input", "shape"], ["prob"])],
        "fails_when_run",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, 1, 32, 32])],
        [shape],
    )
    path = factories._save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), folder / "fails.onnx")
    factories.write_card(path, name="fails")
    return path


def test_a_model_failing_at_run_time_is_segviews_line_alone(tmp_path, model_dir):
    # onnxruntime used to print the same failure first, in colour, once per worker.
    proc = run_segview("bench", "--model", _reshape_failing_model(model_dir), "--frames", 3, "--warmup", 0)
    assert_one_line_error(proc, "Reshape")
    assert "[E:onnxruntime" not in proc.stderr and "\x1b[" not in proc.stderr


def test_a_truncated_jpeg_in_a_folder_prints_nothing_of_libjpeg(tmp_path, brightness_model):
    import cv2

    import factories

    folder = tmp_path / "frames"
    factories.write_images(folder, factories.moving_square_frames(3), suffix=".jpg")
    whole = (folder / "0.jpg").read_bytes()
    (folder / "0.jpg").write_bytes(whole[: len(whole) // 2])
    assert cv2.imread(str(folder / "0.jpg")) is not None  # decodable in part: libjpeg warns, OpenCV returns it
    proc = run_segview("bench", "--source", f"folder:{folder}", "--model", brightness_model, "--frames", 6, "--warmup", 0)
    assert proc.returncode == 0, proc.stderr
    assert "JPEG" not in proc.stderr, proc.stderr


def _folder_with_unreadable_images(folder):
    import cv2
    import numpy as np

    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"{i}.png"), np.full((48, 64, 3), 40 * i, np.uint8))
    (folder / "7.png").write_bytes(b"not a picture")
    (folder / "8.jpg").write_bytes(b"\xff\xd8\xff truncated")
    return folder


def test_bench_says_which_images_of_a_folder_it_skipped(tmp_path, brightness_model):
    import json

    folder = _folder_with_unreadable_images(tmp_path / "frames")
    out = tmp_path / "bench.json"
    proc = run_segview("bench", "--source", f"folder:{folder}", "--model", brightness_model, "--frames", "12", "--warmup", "0", "--json", out)
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("segview: warning:")]
    assert len(warnings) == 1 and "2 of the 5 images" in warnings[0] and "7.png" in warnings[0] and "8.jpg" in warnings[0], proc.stderr
    assert json.loads(out.read_text())["warnings"] == [warnings[0].removeprefix("segview: warning: ")]


def test_a_folder_of_readable_images_gives_no_warning(tmp_path, brightness_model):
    folder = tmp_path / "frames"
    folder.mkdir()
    import cv2
    import numpy as np

    for i in range(3):
        cv2.imwrite(str(folder / f"{i}.png"), np.full((48, 64, 3), 50, np.uint8))
    proc = run_segview("bench", "--source", f"folder:{folder}", "--model", brightness_model, "--frames", "6", "--warmup", "0")
    assert proc.returncode == 0 and "warning" not in proc.stderr, proc.stderr
