"""A compression killed with SIGKILL cannot remove its work folder; the next run in the same folder does.

Only folders whose process is gone go: a running job's (another studio, another terminal) is kept, and so is
anything whose owner cannot be told from its name.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compress.conftest import files_in
from segview.compress import runner
from segview.compress.measure import MeasureOptions
from segview.compress.recipe import Recipe, StepSpec
from segview.compress.workdir import WORKDIR_PREFIX, remove_stale_workdirs

QUICK = MeasureOptions(rounds=2, runs_per_round=2, warmup=1, threads=(1,), agreement_frames=4)
HOUR_S = 3600.0


def _killed_workdir(folder: Path) -> Path:
    """A work folder made by a real process that was then killed with SIGKILL mid-way, as the kernel leaves it."""
    code = (
        "import sys, time; from pathlib import Path; from segview.compress.workdir import make_workdir; "
        "w = make_workdir(Path(sys.argv[1])); (w / 'tiny-fp16.onnx').write_bytes(b'half a model'); print(w, flush=True); time.sleep(600)"
    )
    child = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        workdir = Path(child.stdout.readline().strip())
    finally:
        child.kill()
        child.wait(60)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    assert workdir.is_dir() and workdir.name.startswith(f"{WORKDIR_PREFIX}{child.pid}-")
    return workdir


@pytest.fixture
def live_process():
    """A process that runs for the whole test (a job at work in another terminal)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        yield child
    finally:
        child.kill()
        child.wait(60)


def _folder(parent: Path, name: str, *, age_s: float = 0.0) -> Path:
    path = parent / name
    path.mkdir(parents=True)
    (path / "part.onnx").write_bytes(b"x")
    if age_s:
        then = time.time() - age_s
        os.utime(path, (then, then))
    return path


def test_a_run_removes_the_work_folder_a_killed_run_left_and_keeps_a_running_ones(tiny_model, registry, out_dir, live_process):
    out_dir.mkdir()
    killed = _killed_workdir(out_dir)
    running = _folder(out_dir, f"{WORKDIR_PREFIX}{live_process.pid}-abc123")
    unnamed = _folder(out_dir, f"{WORKDIR_PREFIX}k2x9q0ab")  # an older segview's name: no pid, owner unknown
    events = []
    recipe = Recipe(model=str(tiny_model), steps=(StepSpec.make("fp16"),), out=str(out_dir), measure=QUICK)
    result = runner.run_recipe(recipe, registry=registry, on_event=events.append)
    assert not killed.exists()
    assert running.is_dir() and (running / "part.onnx").is_file() and unnamed.is_dir()
    assert files_in(out_dir) == sorted(
        [running.name, unnamed.name, result.model_path.name, result.card_path.name, result.report_path.name, result.chart_path.name]
    )
    assert [e.message for e in events if e.kind == "log" and killed.name in e.message] == [
        f"removed {killed.name}, left in {out_dir} by a compression that was killed"
    ]


def test_a_reused_pid_does_not_keep_a_folder_its_new_process_never_made(tmp_path, live_process):
    # The pid in the name now belongs to a process started after the folder last changed: its maker is gone.
    reused = _folder(tmp_path, f"{WORKDIR_PREFIX}{live_process.pid}-old111", age_s=HOUR_S)
    mine = _folder(tmp_path, f"{WORKDIR_PREFIX}{os.getpid()}-mine11", age_s=HOUR_S)  # this process's: never stale
    other = _folder(tmp_path, "results-kept", age_s=HOUR_S)
    assert remove_stale_workdirs(tmp_path) == [reused]
    assert not reused.exists() and mine.is_dir() and other.is_dir()


def test_a_folder_that_cannot_be_listed_is_no_reason_to_fail(tmp_path):
    assert remove_stale_workdirs(tmp_path / "missing") == []
