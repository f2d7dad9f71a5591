"""The command line as a user runs it: real subprocesses, real exit codes, real stderr."""

import json
import os
import sys

import cv2
import numpy as np

import factories
from cli_tools import assert_one_line_error, run_segview


def segview(*args, cwd=None):
    return run_segview(*args, cwd=cwd, timeout=120)


def test_bench_writes_json_with_per_model_figures(brightness_model, square_video, tmp_path, model_dir):
    other = factories.brightness_model(model_dir / "other.onnx", layout="NHWC")
    out = tmp_path / "bench.json"
    proc = segview("bench", "--source", square_video, "--model", brightness_model, "--model", other, "--frames", 40, "--warmup", 4, "--json", out)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert [m["model"] for m in report["models"]] == ["bright", "other"]
    for m in report["models"]:
        assert m["frames"] >= 40
        assert m["fps"] > 0
        assert 0 < m["latency_ms"]["p50"] <= m["latency_ms"]["p95"] <= m["latency_ms"]["p99"]
        assert 0 < m["inference_ms"]["p50"] <= m["latency_ms"]["p50"]
        assert set(m["stage_medians_ms"]) == {"capture_ms", "queue_ms", "preprocess_ms", "inference_ms", "postprocess_ms"}
    assert report["machine"]["cores"] >= 1 and "onnxruntime" in report["machine"]
    assert report["source"]["name"] == "file:squares.mp4"
    assert report["frames_dropped"] == 0
    assert report["process"]["peak_rss_mb"] > 10
    # The table on stdout names both models.
    assert "bright" in proc.stdout and "other" in proc.stdout and "FPS" in proc.stdout


def test_bench_on_an_image_folder(brightness_model, tmp_path):
    factories.write_images(tmp_path / "imgs", factories.moving_square_frames(5))
    proc = segview("bench", "--source", f"folder:{tmp_path / 'imgs'}", "--model", brightness_model, "--frames", 12, "--warmup", 0)
    assert proc.returncode == 0, proc.stderr
    assert "folder:imgs" in proc.stdout


def _labelled_set(root, count=6):
    images, masks = root / "images", root / "masks"
    masks.mkdir(parents=True)
    frames = factories.moving_square_frames(count)
    factories.write_images(images, frames, suffix=".jpg")
    for i, frame in enumerate(frames):
        truth = (frame.mean(axis=2) > 128).astype(np.uint8) * 255
        # Masks at another size must be resized with nearest-neighbour.
        cv2.imwrite(str(masks / f"{i}.png"), cv2.resize(truth, (80, 60), interpolation=cv2.INTER_NEAREST))
    return images, masks


def test_eval_mean_iou(brightness_model, tmp_path):
    images, masks = _labelled_set(tmp_path)
    out = tmp_path / "eval.json"
    proc = segview("eval", "--model", brightness_model, "--images", images, "--masks", masks, "--json", out)
    assert proc.returncode == 0, proc.stderr
    (report,) = json.loads(out.read_text())["models"]
    assert report["model"] == "bright" and report["images"] == 6
    assert report["mean_iou"] > 0.9
    assert "mean IoU" in proc.stdout


def _inverted(source, target):
    """The brightness model with its weights negated: dark = person."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(source))
    for init in model.graph.initializer:
        init.CopyFrom(numpy_helper.from_array(-numpy_helper.to_array(init), init.name))
    onnx.save(model, str(target))
    return target


def test_eval_detects_a_wrong_model(model_dir, tmp_path):
    # An inverted model (dark = person) must score near zero: the IoU is really computed.
    _inverted(factories.brightness_model(model_dir / "bright.onnx"), model_dir / "inverted.onnx")
    images, masks = _labelled_set(tmp_path)
    out = tmp_path / "eval.json"
    proc = segview("eval", "--model", model_dir / "inverted.onnx", "--images", images, "--masks", masks, "--json", out)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["models"][0]["mean_iou"] < 0.1


def test_eval_two_models_in_one_table(model_dir, tmp_path):
    # Issue 12: "--model A --model B" evaluated B only. Both are scored, in one table and one JSON.
    bright = factories.brightness_model(model_dir / "bright.onnx")
    _inverted(bright, model_dir / "inverted.onnx")
    images, masks = _labelled_set(tmp_path)
    out = tmp_path / "eval.json"
    proc = segview("eval", "--model", bright, "--model", model_dir / "inverted.onnx", "--images", images, "--masks", masks, "--json", out)
    assert proc.returncode == 0, proc.stderr
    reports = json.loads(out.read_text())["models"]
    assert [r["model"] for r in reports] == ["bright", "inverted"]
    assert [r["images"] for r in reports] == [6, 6]
    assert reports[0]["mean_iou"] > 0.9 > 0.1 > reports[1]["mean_iou"]
    rows = [line.split() for line in proc.stdout.splitlines() if line.startswith(("bright", "inverted"))]
    assert [(r[0], float(r[2])) for r in rows] == [(r["model"], round(r["mean_iou"], 4)) for r in reports]


def test_eval_per_class_iou_for_multiclass_models(model_dir, tmp_path):
    path = factories.colour_class_model(model_dir / "colours.onnx")
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    image = np.zeros((32, 48, 3), np.uint8)
    image[:, :16] = (0, 0, 255)
    image[:, 16:32] = (0, 255, 0)
    image[:, 32:] = (255, 0, 0)
    truth = np.zeros((32, 48), np.uint8)
    truth[:, 16:32] = 1
    truth[:, 32:] = 2
    cv2.imwrite(str(tmp_path / "images" / "a.png"), image)
    cv2.imwrite(str(tmp_path / "masks" / "a.png"), truth)
    out = tmp_path / "eval.json"
    proc = segview("eval", "--model", path, "--images", tmp_path / "images", "--masks", tmp_path / "masks", "--json", out)
    assert proc.returncode == 0, proc.stderr
    per_class = json.loads(out.read_text())["models"][0]["per_class_iou"]
    assert set(per_class) == {"class 0", "class 1", "class 2"}
    assert all(v > 0.8 for v in per_class.values())


def test_models_lists_bundled_and_extra(brightness_model, model_dir):
    factories.two_input_model(model_dir / "two.onnx")
    proc = segview("models", model_dir)
    assert proc.returncode == 0, proc.stderr
    assert "selfie-general" in proc.stdout and "bright" in proc.stdout
    assert "skipped" in proc.stdout and "two.onnx" in proc.stdout


def test_devices_runs_without_cameras(tmp_path, monkeypatch):
    # Without adb on PATH the phones part says so; the real adb has its own test (tests/phone).
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.path.dirname(sys.executable)}")
    proc = segview("devices")
    assert proc.returncode == 0
    assert "camera" in proc.stdout


# -- bad input: one clear line on stderr, non-zero exit, no traceback ----------


def test_missing_model_file(square_video, tmp_path):
    assert_one_line_error(segview("bench", "--source", square_video, "--model", tmp_path / "nope.onnx"), "not found")


def test_not_onnx(square_video, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(os.urandom(3000))
    assert_one_line_error(segview("bench", "--source", square_video, "--model", bad), "not a readable ONNX model")


def test_truncated_onnx(square_video, brightness_model, tmp_path):
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(brightness_model.read_bytes()[:150])
    assert_one_line_error(segview("bench", "--source", square_video, "--model", cut), "truncated")


def test_model_with_two_inputs(square_video, model_dir):
    path = factories.two_input_model(model_dir / "two.onnx")
    assert_one_line_error(segview("bench", "--source", square_video, "--model", path), "exactly one image input")


def test_undecodable_video(brightness_model, tmp_path):
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000))
    assert_one_line_error(segview("bench", "--source", bad, "--model", brightness_model), "cannot decode video")


def test_video_damaged_mid_way(brightness_model, tmp_path):
    video = factories.write_video(tmp_path / "long.mkv", factories.moving_square_frames(90))
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    out = tmp_path / "bench.json"
    proc = segview("bench", "--source", cut, "--model", brightness_model, "--frames", 200, "--warmup", 0, "--json", out)
    assert_one_line_error(proc, "cut.mkv is damaged: it ended after")
    # What was measured before the damage is kept.
    report = json.loads(out.read_text())
    assert 0 < report["models"][0]["frames"] < 90
    assert "damaged" in report["problem"]


def test_missing_camera(brightness_model):
    assert_one_line_error(segview("bench", "--source", "camera:57", "--model", brightness_model), "camera 57 not found")


def test_empty_image_folder(brightness_model, tmp_path):
    (tmp_path / "empty").mkdir()
    assert_one_line_error(segview("bench", "--source", f"folder:{tmp_path / 'empty'}", "--model", brightness_model), "no images in")


def test_eval_without_matching_masks(brightness_model, tmp_path):
    factories.write_images(tmp_path / "images", factories.moving_square_frames(2))
    (tmp_path / "masks").mkdir()
    assert_one_line_error(segview("eval", "--model", brightness_model, "--images", tmp_path / "images", "--masks", tmp_path / "masks"), "no mask in")


def test_unknown_model_name(square_video):
    assert_one_line_error(segview("bench", "--source", square_video, "--model", "no-such-model"), "unknown model")


def test_json_into_a_missing_folder(brightness_model, square_video, tmp_path):
    proc = segview("bench", "--source", square_video, "--model", brightness_model, "--frames", 5, "--json", tmp_path / "nope" / "x.json")
    assert_one_line_error(proc, "does not exist")
