"""`segview studio --duration --record`: the real window, run unattended, leaves a session behind."""

from __future__ import annotations

import json
import os

import factories
from cli_tools import assert_one_line_error, run_segview


def _env(tmp_path):
    # Offscreen Qt, and a HOME of its own so no preference of the user's is read or written.
    return dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path / "home"))


def test_scripted_run_records_a_summary_with_fps_per_model(tmp_path, brightness_model, slow_video):
    folder = tmp_path / "session"
    shot = tmp_path / "window.png"
    proc = run_segview(
        "studio",
        "--source",
        slow_video,
        "--model",
        brightness_model,
        "--duration",
        "4",
        "--record",
        folder,
        "--overlay",
        "blend",
        "--screenshot",
        shot,
        env=_env(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((folder / "summary.json").read_text())
    model = summary["models"]["bright"]
    assert model["frames"] > 10 and model["fps"] > 1.0
    studio = json.loads((folder / "studio.json").read_text())
    assert studio["duration_s"] == 4.0 and studio["event_loop_delay_ms"]["p95"] is not None
    assert (folder / "frames.csv").read_text().count("\n") > 10
    assert shot.stat().st_size > 10_000  # a real picture of the window


def test_a_clip_shorter_than_the_duration_ends_the_run_there_and_keeps_the_session(tmp_path, brightness_model):
    # 30 frames, played at their own 30 fps: about a second of a 20-second run.
    clip = factories.write_video(tmp_path / "short.mp4", factories.moving_square_frames(30))
    folder = tmp_path / "session"
    proc = run_segview("studio", "--source", clip, "--model", brightness_model, "--duration", "20", "--record", folder, env=_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "error" not in proc.stderr
    assert "short.mp4 ended after" in proc.stdout and "of the 20 s asked" in proc.stdout
    studio = json.loads((folder / "studio.json").read_text())
    assert studio["duration_asked_s"] == 20.0 and 0 < studio["duration_s"] < 20.0  # ended by the clip, before the clock
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["models"]["bright"]["frames"] >= 10


def test_recording_into_a_used_folder_is_one_clear_line(tmp_path):
    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("keep me")
    # The bundled clip and model: with them running, an error that skipped shutting down aborted the process.
    proc = run_segview("studio", "--source", "demo", "--model", "selfie-general", "--duration", "2", "--record", used, env=_env(tmp_path))
    # Not an abort at exit (exit 134, "terminate called without an active exception"): the models were stopped first.
    assert proc.returncode == 2, proc.stderr
    assert_one_line_error(proc, "already holds files")
    assert (used / "notes.txt").read_text() == "keep me"


def test_scripted_run_with_a_bad_model_is_one_clear_line(tmp_path, slow_video):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    proc = run_segview("studio", "--source", slow_video, "--model", bad, "--duration", "2", env=_env(tmp_path))
    assert_one_line_error(proc, "bad.onnx")
