"""Things that used to wait forever: a FIFO given as a video (FFmpeg blocks in open until a writer comes).

Each case runs the real program in a subprocess with a timeout: a hang fails the test instead of the suite.
"""

from __future__ import annotations

import os
import subprocess

import pytest

import factories
from cli_tools import assert_one_line_error, run_segview

HANG_S = 60  # far longer than a refusal takes; a hang is the only way to reach it


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "clip.mp4"
    os.mkfifo(path)
    return path


def _run(*args, tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path / "home"))
    try:
        return run_segview(*args, env=env, timeout=HANG_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"segview {' '.join(map(str, args))} hung for {HANG_S} s")


@pytest.mark.parametrize("spelling", ["{}", "file:{}"])
def test_a_fifo_as_the_bench_source_is_refused_at_once(tmp_path, fifo, brightness_model, spelling):
    proc = _run("bench", "--source", spelling.format(fifo), "--model", brightness_model, "--frames", 5, tmp_path=tmp_path)
    assert_one_line_error(proc, "FIFO")


def test_a_fifo_as_the_studio_source_is_one_line(tmp_path, fifo, brightness_model):
    proc = _run("studio", "--source", fifo, "--model", brightness_model, "--duration", 3, tmp_path=tmp_path)
    assert_one_line_error(proc, "FIFO")


def test_a_fifo_as_calibration_frames_is_one_line(tmp_path, fifo, brightness_model):
    proc = _run("compress", "--model", brightness_model, "--step", "int8-static", "--calib", fifo, "--out", tmp_path / "out", tmp_path=tmp_path)
    assert_one_line_error(proc, "FIFO")
    assert not (tmp_path / "out").exists()


def test_a_fifo_among_the_images_of_a_folder_is_passed_over(tmp_path, brightness_model):
    folder = tmp_path / "frames"
    factories.write_images(folder, factories.moving_square_frames(6))
    os.mkfifo(folder / "9.png")
    proc = _run("bench", "--source", f"folder:{folder}", "--model", brightness_model, "--frames", 6, "--warmup", 0, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_socket_as_a_video_is_refused(tmp_path, brightness_model):
    import socket

    path = tmp_path / "s.mp4"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
        proc = _run("bench", "--source", path, "--model", brightness_model, "--frames", 5, tmp_path=tmp_path)
    finally:
        server.close()
    assert_one_line_error(proc, "socket")
