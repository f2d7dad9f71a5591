"""Ctrl+C (SIGINT), SIGTERM and kill -9 sent to real ``segview`` processes: compress, distill, the scripted studio.

Each waits for an event of the run (a work folder, a progress line, a recorded second) before signalling,
then checks what a user would: the exit status, one line on stderr and no traceback, nothing partial left
behind (work folders, onnxruntime's ort.quant.* folders in a TMPDIR of the test's own, *.tmp files), and what
must be kept (a distillation checkpoint, a recorded session).
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import factories
from cli_tools import SMALL_BATCHES, TINY_STUDENT
from compress import tiny

WAIT_S = 180.0  # generous: two shared cores


def _env(tmp_path: Path) -> dict[str, str]:
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    return dict(os.environ, PYTHONUNBUFFERED="1", TMPDIR=str(tmp), QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path / "home"))


class Run:
    """A ``segview`` child whose output goes to files, so a test can watch it while it runs."""

    def __init__(self, tmp_path: Path, *args: object) -> None:
        self.out_path, self.err_path = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "segview", *map(str, args)], stdout=out, stderr=err, env=_env(tmp_path), cwd=tmp_path)

    @property
    def stdout(self) -> str:
        return self.out_path.read_text()

    @property
    def stderr(self) -> str:
        return self.err_path.read_text()

    def wait_for(self, what: str, event: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT_S
        while not event():
            if self.proc.poll() is not None:
                pytest.fail(f"segview ended (exit {self.proc.returncode}) before {what}:\n{self.stdout}\n{self.stderr}")
            if time.monotonic() > deadline:
                self.proc.kill()
                pytest.fail(f"no {what} after {WAIT_S:.0f} s")
            time.sleep(0.02)

    def stop_with(self, signum: int) -> int:
        self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail(f"still running {WAIT_S:.0f} s after {signal.Signals(signum).name}:\n{self.stderr}")


def _one_line(stderr: str, fragment: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("segview: ") and fragment in lines[0], lines[0]
    return lines[0]


def _leftovers(*folders: Path) -> list[str]:
    """Partial files a run must never leave: its work folders, onnxruntime's temporary folders, *.tmp files."""
    found = []
    for folder in folders:
        if folder.exists():
            found += [str(p) for p in folder.rglob("*") if p.name.startswith((".segview-compress-", "ort.quant.", "pre.quant.")) or p.name.endswith(".tmp")]
    return found


# -- the handlers themselves ----------------------------------------------------------------------------


def test_the_first_signal_asks_to_stop_and_a_second_one_raises():
    from segview.interrupts import stop_on_signals

    before = signal.getsignal(signal.SIGTERM)
    seen = []
    with stop_on_signals(seen.append) as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.signum == signal.SIGTERM and seen == [signal.SIGTERM]  # asked, not raised
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGTERM) is before  # put back


def test_in_an_event_loop_a_second_signal_changes_nothing():
    from segview.interrupts import stop_on_signals

    seen = []
    with stop_on_signals(seen.append, second_raises=False) as stop:
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)  # raised, it would land in a Qt slot as a traceback
    assert stop.signum == signal.SIGINT and seen == [signal.SIGINT]


def test_sigterm_raises_like_ctrl_c_while_cleanup_matters():
    from segview.interrupts import Terminated, raise_on_signals

    cleaned = []
    with pytest.raises(Terminated), raise_on_signals():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
        finally:
            cleaned.append(True)
    assert cleaned == [True]
    assert issubclass(Terminated, KeyboardInterrupt)  # every "except KeyboardInterrupt" handles it too


def test_off_the_main_thread_the_handlers_are_left_alone():
    import threading

    from segview.interrupts import raise_on_signals, stop_on_signals

    before = signal.getsignal(signal.SIGINT)
    seen = []

    def work():
        with stop_on_signals() as stop, raise_on_signals():
            seen.append((stop.is_set(), signal.getsignal(signal.SIGINT)))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [(False, before)]


# -- compress --------------------------------------------------------------------------------------------


@pytest.fixture
def compress_inputs(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "models").mkdir(exist_ok=True)
    model = tiny.tiny_segmenter(tmp_path / "models" / "tiny.onnx")
    calib = tmp_path / "calib"
    factories.write_images(calib, tiny.frames(200, seed=3))
    return model, calib


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_compress_leaves_the_output_folder_as_it_was(tmp_path, compress_inputs, signum):
    model, calib = compress_inputs
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    run = Run(tmp_path, "compress", "--model", model, "--step", "int8-static", "--calib", calib, "--calib-frames", 200, "--out", out)
    run.wait_for("work folder", lambda: any(out.glob(".segview-compress-*")))
    code = run.stop_with(signum)
    # Handled like Ctrl+C, with the shell's figures (130, 143). Killed by the signal (-15) is the defect.
    assert code == (130 if signum == signal.SIGINT else 143), run.stderr
    _one_line(run.stderr, "interrupted" if signum == signal.SIGINT else "terminated")
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert _leftovers(out, tmp_path / "tmp") == []


def test_sigterm_during_compress_removes_the_output_folder_it_created(tmp_path, compress_inputs):
    model, calib = compress_inputs
    out = tmp_path / "new" / "deeper"
    run = Run(tmp_path, "compress", "--model", model, "--step", "int8-static", "--calib", calib, "--calib-frames", 200, "--out", out)
    run.wait_for("work folder", lambda: out.is_dir() and any(out.glob(".segview-compress-*")))
    code = run.stop_with(signal.SIGTERM)
    assert code == 143, run.stderr
    assert not (tmp_path / "new").exists()
    assert _leftovers(tmp_path / "tmp") == []


def test_onnxruntime_quantization_folders_live_inside_the_work_folder(tmp_path, compress_inputs, monkeypatch):
    # A spy only: it records where onnxruntime puts its ort.quant.* folders, and changes nothing.
    from segview.compress.calibration import CalibrationSpec
    from segview.compress.recipe import Recipe, StepSpec
    from segview.compress.runner import run_recipe
    from segview.inference.registry import ModelRegistry

    model, calib = compress_inputs
    made: list[str] = []
    real = tempfile.TemporaryDirectory

    class Spy(real):  # type: ignore[misc, valid-type]
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            made.append(self.name)

    monkeypatch.setattr(tempfile, "TemporaryDirectory", Spy)
    out = tmp_path / "out"
    recipe = Recipe(
        model=str(model), steps=(StepSpec.make("int8-static"),), calibration=CalibrationSpec(str(calib), max_frames=16, held_out=0.25), out=str(out)
    )
    run_recipe(recipe, registry=ModelRegistry([model.parent]))
    quant = [Path(m) for m in made if Path(m).name.startswith("ort.quant.")]
    assert quant, made
    assert all(q.parent.parent == out and q.parent.name.startswith(".segview-compress-") for q in quant), quant
    assert tempfile.gettempdir() != str(quant[0].parent)  # put back afterwards
    assert _leftovers(out) == []


def test_the_studio_jobs_child_cleans_up_when_terminated(tmp_path, compress_inputs, monkeypatch):
    # The studio's CompressionJob ends a child that does not stop with SIGTERM; the child's own cleanup must run.
    from segview.compress.calibration import CalibrationSpec
    from segview.compress.job import CompressionJob
    from segview.compress.recipe import Recipe, StepSpec

    model, calib = compress_inputs
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setenv("TMPDIR", str(private))  # the spawned child's temporary folder
    out = tmp_path / "out"
    job = CompressionJob(Recipe(model=str(model), steps=(StepSpec.make("int8-static"),), calibration=CalibrationSpec(str(calib), max_frames=200), out=str(out)))
    job.start()
    deadline = time.monotonic() + WAIT_S
    while job.running and not any(out.glob(".segview-compress-*")) and time.monotonic() < deadline:
        job.poll()
        time.sleep(0.02)
    assert job.running, job.error
    os.kill(job._process.pid, signal.SIGTERM)  # what the job's terminate sends
    job._process.join(WAIT_S)
    assert job._process.exitcode is not None and job._process.exitcode >= 0, job._process.exitcode  # it ended itself, not killed
    job.wait(WAIT_S)
    assert not out.exists() or list(out.iterdir()) == []
    assert _leftovers(private) == []


# -- distill ---------------------------------------------------------------------------------------------


@pytest.fixture
def distill_args(tmp_path: Path, brightness_model: Path) -> list[object]:
    pytest.importorskip("torch")
    frames = tmp_path / "frames"
    factories.write_images(frames, [factories.bright_square_frame(80, 60, box=(4 + 5 * i, 6, 34 + 5 * i, 32)) for i in range(16)])
    out = brightness_model.parent / "student.onnx"
    return [
        "distill",
        "--teacher",
        brightness_model,
        *TINY_STUDENT,
        "--images",
        frames,
        "--minutes",
        "10",
        *SMALL_BATCHES,
        "--out",
        out,
    ]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_distill_training_saves_a_checkpoint_and_says_where(tmp_path, distill_args, signum):
    out = Path(distill_args[-1])
    run = Run(tmp_path, *distill_args)
    # The first step line: before it the teacher's targets are being cached and nothing is trained yet
    # (a signal then saves nothing, and says so: test_ctrl_c_before_training_...).
    run.wait_for("training", lambda: re.search(r"^step +\d+", run.stdout, re.MULTILINE) is not None)
    code = run.stop_with(signum)
    assert code == 128 + signum, run.stderr
    checkpoint = out.with_name("student.ckpt.pt")
    line = _one_line(run.stderr, "cancelled")
    assert checkpoint.is_file() and checkpoint.stat().st_size > 1000, line
    assert str(checkpoint) in line and "--resume" in line
    assert not out.exists()  # a cancelled run writes no model
    assert _leftovers(out.parent, tmp_path / "tmp") == []


def test_ctrl_c_before_training_says_truthfully_whether_a_checkpoint_exists(tmp_path, distill_args):
    out = Path(distill_args[-1])
    run = Run(tmp_path, *distill_args)
    run.wait_for("the teacher loading", lambda: "distill: loading the teacher" in run.stdout)
    code = run.stop_with(signal.SIGINT)
    assert code == 130, run.stderr
    line = _one_line(run.stderr, "")
    checkpoint = out.with_name("student.ckpt.pt")
    # Whichever moment the signal caught, the line matches what is on disk.
    if checkpoint.exists():
        assert str(checkpoint) in line
    else:
        assert "nothing was saved" in line and str(checkpoint) not in line


def test_sigterm_to_the_studios_distill_child_is_a_cancel_with_its_checkpoint(tmp_path, distill_args):
    # The Distill page runs `segview distill --events`; a SIGTERM from it (or the system) is a cancel too.
    out = Path(distill_args[-1])
    env = _env(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "segview", *map(str, distill_args), "--events"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    events = []
    for line in proc.stdout:  # the child's own events, read as they come
        events.append(json.loads(line))
        if events[-1]["event"] == "progress":  # a training step: the targets are cached, training has begun
            break
    else:
        pytest.fail(f"no training stage: {events} {proc.stderr.read()}")
    proc.send_signal(signal.SIGTERM)
    rest, err = proc.communicate(timeout=WAIT_S)
    finished = [json.loads(line) for line in rest.splitlines() if json.loads(line)["event"] == "finished"]
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert len(finished) == 1 and finished[0]["cancelled"] is True
    assert Path(finished[0]["checkpoint"]).is_file() and not out.exists()


# -- the scripted studio ---------------------------------------------------------------------------------


def _seconds_lines(folder: Path) -> list[dict]:
    path = folder / "seconds.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_scripted_studio_and_keeps_the_session(tmp_path, brightness_model, signum):
    folder = tmp_path / "session"
    run = Run(tmp_path, "studio", "--source", "demo", "--model", brightness_model, "--duration", "120", "--record", folder)
    run.wait_for("a recorded second", lambda: len(_seconds_lines(folder)) >= 1)
    code = run.stop_with(signum)
    assert code == 128 + signum, run.stderr
    _one_line(run.stderr, f"interrupted by {signal.Signals(signum).name}")
    studio = json.loads((folder / "studio.json").read_text())
    assert 0 < studio["duration_s"] < 120 and studio["duration_asked_s"] == 120
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["models"]["bright"]["frames"] >= 1
    assert f"session recorded in {folder}" in run.stdout
    assert _leftovers(folder) == []


def test_kill_9_during_a_recording_keeps_every_row_up_to_the_last_second(tmp_path, brightness_model):
    folder = tmp_path / "session"
    run = Run(tmp_path, "studio", "--source", "demo", "--model", brightness_model, "--duration", "120", "--record", folder)
    run.wait_for("two recorded seconds", lambda: len(_seconds_lines(folder)) >= 2)
    run.proc.kill()
    run.proc.wait(timeout=WAIT_S)
    seconds = _seconds_lines(folder)  # every line whole: json.loads would fail on half of one
    assert (folder / "seconds.jsonl").read_text().endswith("\n")
    text = (folder / "frames.csv").read_text()
    assert text.endswith("\n")
    rows = list(csv.DictReader(text.splitlines()))
    assert rows and all(len(r) == len(rows[0]) and None not in r.values() for r in rows)
    # The frames of each second are written no later than that second's line: none is missing.
    counted = sum(s["models"]["bright"]["frames"] for s in seconds)
    assert len(rows) >= counted > 0
    assert max(float(r["t_s"]) for r in rows) >= len(seconds) - 1


def test_sigterm_closes_the_interactive_studio_as_its_close_button_does(tmp_path, brightness_model):
    folder = tmp_path / "session"
    run = Run(tmp_path, "studio", "--source", "demo", "--model", brightness_model, "--record", folder)
    run.wait_for("a recorded second", lambda: len(_seconds_lines(folder)) >= 1)
    assert run.stop_with(signal.SIGTERM) == 143, run.stderr
    _one_line(run.stderr, "interrupted by SIGTERM")
    assert json.loads((folder / "summary.json").read_text())["models"]["bright"]["frames"] >= 1  # the recording was closed properly
