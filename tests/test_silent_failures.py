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
