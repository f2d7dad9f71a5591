"""A full disk, for real: a small tmpfs mounted for the test (skipped, with the reason, where mounting is not allowed).

Studio recording, compress and distill each end with one line and a non-zero exit, in bounded time, and leave
nothing partial: rows cut back to whole ones, no work folders, no *.tmp, no folder they created.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import factories
from cli_tools import SMALL_BATCHES, TINY_STUDENT, assert_one_line_error, run_segview
from compress import tiny

TIMEOUT_S = 180  # a hang (the studio used to wait forever) fails the test instead of blocking the suite


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 512 KiB file system of its own; ``fill(free)`` leaves about ``free`` bytes on it."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip() or done.returncode}")

    def fill(free: int) -> Path:
        avail = os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize
        (mount / "filler").write_bytes(b"\0" * max(0, avail - free))
        return mount

    try:
        yield fill
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _env(tmp_path: Path) -> dict[str, str]:
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    return dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path / "home"), TMPDIR=str(tmp))


def _run(tmp_path: Path, *args):
    try:
        return run_segview(*args, env=_env(tmp_path), timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"segview {args[0]} on a full disk did not end within {TIMEOUT_S} s")


def _partial(*folders: Path) -> list[str]:
    return [str(p) for f in folders if f.exists() for p in f.rglob("*") if p.name.endswith(".tmp") or p.name.startswith((".segview-compress-", "ort.quant."))]


# -- the scripted studio -----------------------------------------------------------------------------------


def test_a_full_disk_during_a_scripted_recording_ends_the_run_with_one_line(tmp_path, small_disk, brightness_model):
    folder = small_disk(24_000) / "session"  # settings and the first rows fit; seconds later nothing does
    proc = _run(tmp_path, "studio", "--source", "demo", "--model", brightness_model, "--duration", "8", "--record", folder)
    assert proc.returncode == 2, proc.stderr
    assert_one_line_error(proc, "No space left on device")
    assert "recording stopped" in proc.stderr and str(folder) in proc.stderr
    # What was written is kept, in whole rows and lines.
    text = (folder / "frames.csv").read_text()
    rows = list(csv.reader(text.splitlines()))
    assert len(rows) > 1 and {len(r) for r in rows} == {len(rows[0])} and text.endswith("\n")
    for line in (folder / "seconds.jsonl").read_text().splitlines():
        json.loads(line)
    assert _partial(folder) == []


def test_a_recording_that_cannot_start_on_a_full_disk_leaves_no_folder(tmp_path, small_disk, brightness_model):
    disk = small_disk(0)
    folder = disk / "new" / "session"
    proc = _run(tmp_path, "studio", "--source", "demo", "--model", brightness_model, "--duration", "3", "--record", folder)
    assert_one_line_error(proc, "No space left on device")
    assert sorted(p.name for p in disk.iterdir()) == ["filler"]


# -- compress --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("free", [0, 20_000, 60_000])
def test_compress_on_a_full_disk_is_one_line_and_leaves_the_folder_as_it_was(tmp_path, small_disk, free):
    (tmp_path / "models").mkdir()
    model = tiny.tiny_segmenter(tmp_path / "models" / "tiny.onnx")
    calib = tmp_path / "calib"
    factories.write_images(calib, tiny.frames(12, seed=3))
    disk = small_disk(free)
    proc = _run(tmp_path, "compress", "--model", model, "--step", "int8-static", "--calib", calib, "--out", disk / "out", "--rounds", 2, "--runs", 3)
    assert proc.returncode == 2, proc.stderr
    assert_one_line_error(proc, "No space left on device")
    assert sorted(p.name for p in disk.iterdir()) == ["filler"]  # no result, no work folder, no output folder it made
    assert _partial(tmp_path / "tmp") == []


# -- distill ---------------------------------------------------------------------------------------------


def test_distill_on_a_full_disk_is_one_line_and_leaves_no_partial_checkpoint(tmp_path, small_disk, brightness_model):
    pytest.importorskip("torch")
    frames = tmp_path / "frames"
    factories.write_images(frames, [factories.bright_square_frame(80, 60, box=(4 + 5 * i, 6, 34 + 5 * i, 32)) for i in range(12)])
    disk = small_disk(8_000)  # less than one checkpoint
    out = tmp_path / "student.onnx"
    checkpoint = disk / "student.ckpt.pt"
    proc = _run(
        tmp_path,
        "distill",
        "--teacher",
        brightness_model,
        *TINY_STUDENT,
        "--images",
        frames,
        "--steps",
        "3",
        *SMALL_BATCHES,
        "--out",
        out,
        "--checkpoint",
        checkpoint,
    )
    assert proc.returncode == 2, proc.stderr
    assert_one_line_error(proc, "No space left on device")
    assert str(checkpoint) in proc.stderr
    assert sorted(p.name for p in disk.iterdir()) == ["filler"]  # no checkpoint, whole or partial
    assert not out.exists()
