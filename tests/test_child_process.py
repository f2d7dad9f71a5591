"""Child processes run the installed segview, even when started from a folder holding a clone named ``segview``.

``python -m segview`` from such a folder imported the clone's top folder (no ``__init__.py``)
as a namespace package: "cannot import name '__version__' from 'segview' (unknown location)".
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from segview import __version__
from segview.child import segview_command


@pytest.fixture
def clone_parent(tmp_path: Path) -> Path:
    """A working folder as a user has it: a clone named segview beside other things."""
    folder = tmp_path / "work"
    (folder / "segview" / "segview").mkdir(parents=True)
    (folder / "segview" / "README.md").write_text("a clone's top folder: no __init__.py here\n")
    (folder / "segview" / "junk.txt").write_text("junk\n")
    return folder


def test_the_child_command_runs_the_installed_segview_from_a_folder_holding_a_clone(clone_parent):
    proc = subprocess.run(segview_command("--version"), cwd=clone_parent, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"segview {__version__}"


def test_the_distill_process_runs_from_a_folder_holding_a_clone(clone_parent, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    import factories
    from distill.conftest import _tiny_config, encoder_teacher
    from segview.distill.process import DistillProcess

    teacher = encoder_teacher(tmp_path / "teacher.onnx")
    frames = tmp_path / "frames"
    factories.write_images(frames, [factories.bright_square_frame(80, 60, box=(4 + 6 * i, 4, 34 + 6 * i, 30)) for i in range(8)])
    config = _tiny_config(teacher, frames, tmp_path / "student.onnx", max_steps=3, batch_size=4)
    finished, failed = [], []
    monkeypatch.chdir(clone_parent)  # the child inherits this working folder
    job = DistillProcess(config, on_finished=finished.append, on_failed=failed.append)
    job.start()
    assert job.wait(300)
    assert not failed, failed
    assert finished and finished[0].model_path == tmp_path / "student.onnx" and finished[0].model_path.exists()


_COMPRESS_PARENT = """
import sys
from segview.compress.job import CompressionJob
from segview.compress.measure import MeasureOptions
from segview.compress.recipe import Recipe, StepSpec

if __name__ == "__main__":
    quick = MeasureOptions(rounds=1, runs_per_round=1, warmup=0, threads=(1,), agreement_frames=2)
    job = CompressionJob(Recipe(model=sys.argv[1], steps=(StepSpec.make("fp16"),), out=sys.argv[2], measure=quick))
    job.start()
    job.wait(240)
    print(job.state, job.error or "")
"""


def test_a_compression_job_runs_from_a_folder_holding_a_clone(clone_parent, tmp_path):
    from compress import tiny

    model = tiny.tiny_segmenter(tmp_path / "tiny.onnx")
    # The parent is started the way the `segview` console script is: a script outside the working folder.
    script = tmp_path / "bin" / "parent.py"
    script.parent.mkdir()
    script.write_text(textwrap.dedent(_COMPRESS_PARENT))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(script), str(model), str(out)], cwd=clone_parent, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[0] == "finished", proc.stdout + proc.stderr
    assert (out / "tiny-fp16.onnx").exists()
