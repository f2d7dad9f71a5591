"""A recipe in a child process, as the studio runs it: it finishes, or it is cancelled and leaves nothing."""

from __future__ import annotations

import dataclasses
import threading
import time

from compress.conftest import files_in
from segview.compress.calibration import CalibrationSpec
from segview.compress.job import CompressionJob
from segview.compress.measure import MeasureOptions
from segview.compress.recipe import Recipe, StepSpec

QUICK = MeasureOptions(rounds=2, runs_per_round=2, warmup=1, threads=(1,), agreement_frames=4)


def test_a_job_runs_in_a_child_process_and_reports_its_result(tiny_model, out_dir):
    job = CompressionJob(Recipe(model=str(tiny_model), steps=(StepSpec.make("fp16"),), out=str(out_dir), measure=QUICK))
    job.start()
    updates = job.wait(120)
    assert job.state == "finished", job.error
    assert updates[-1].kind == "finished" and updates[-1].result.model_path == out_dir / "tiny-fp16.onnx"
    assert any(u.kind == "progress" for u in updates) and any(u.kind == "log" for u in updates)
    assert job.result.model_path.exists()


def _long_recipe(tiny_model, calib_dir, out_dir) -> Recipe:
    """Prune then int8-auto: long enough to cancel or close while int8-auto works."""
    return Recipe(
        model=str(tiny_model),
        steps=(StepSpec.make("prune"), StepSpec.make("int8-auto", max_iou_drop=0.0, max_float_nodes=50)),
        calibration=CalibrationSpec(str(calib_dir)),
        out=str(out_dir),
        measure=QUICK,
    )


def test_cancelling_a_job_leaves_no_files(tiny_model, calib_dir, out_dir):
    recipe = _long_recipe(tiny_model, calib_dir, out_dir)
    job = CompressionJob(recipe)
    job.start()
    # Cancel as soon as the step has started working.
    while job.running and not any(u.kind == "log" and "int8-auto" in u.message for u in job.poll()):
        time.sleep(0.01)
    job.cancel()
    updates = job.wait(60)
    assert job.state == "cancelled", (job.state, job.error)
    assert updates[-1].kind == "cancelled"
    assert files_in(out_dir) == []


def test_a_failing_job_says_why(tiny_model, tmp_path, out_dir):
    empty = tmp_path / "empty"
    empty.mkdir()
    job = CompressionJob(
        Recipe(model=str(tiny_model), steps=(StepSpec.make("int8-static"),), calibration=CalibrationSpec(str(empty)), out=str(out_dir), measure=QUICK)
    )
    job.start()
    job.wait(60)
    assert job.state == "failed" and "no images in calibration folder" in job.error
    assert files_in(out_dir) == []


def test_a_job_tells_its_parent_when_it_measures_and_reports_the_answer(tiny_model, out_dir):
    from segview.compress.job import UNCHECKED

    calls = []

    def on_measuring(measuring: bool) -> str:
        calls.append(measuring)
        return "nothing (test paused)" if measuring else ""

    two_counts = dataclasses.replace(QUICK, threads=(1, 0))
    job = CompressionJob(Recipe(model=str(tiny_model), steps=(StepSpec.make("fp16"),), out=str(out_dir), measure=two_counts), on_measuring=on_measuring)
    job.start()
    updates = job.wait(120)
    assert job.state == "finished", job.error
    assert calls == [True, False, True, False]  # one pause per thread count, each ended
    assert [u.kind for u in updates if u.kind in ("measuring", "measured")] == ["measuring", "measured"] * 2
    assert [lat.beside for lat in job.result.report.latency] == ["nothing (test paused)"] * 2
    # Without a parent that answers, the report says nothing was checked.
    plain = CompressionJob(Recipe(model=str(tiny_model), steps=(StepSpec.make("fp16"),), out=str(out_dir / "plain"), measure=QUICK))
    plain.start()
    plain.wait(120)
    assert plain.state == "finished" and {lat.beside for lat in plain.result.report.latency} == {UNCHECKED}


def test_updates_are_handed_over_as_the_child_sends_them_and_the_last_says_how_it_ended(tiny_model, out_dir):
    job = CompressionJob(Recipe(model=str(tiny_model), steps=(StepSpec.make("fp16"),), out=str(out_dir), measure=QUICK))
    job.start()
    seen = [(update.kind, update.ends, job.state) for update in job.updates(timeout=120)]
    assert seen[-1] == ("finished", True, "finished"), job.error
    before = seen[:-1]
    assert any(kind == "progress" for kind, _, _ in before) and any(kind == "log" for kind, _, _ in before)
    assert all(not ends and state == "running" for _, ends, state in before)  # each one while the job still ran


def test_closing_a_job_another_thread_reads_lets_that_reader_report_the_cancel(tiny_model, calib_dir, out_dir):
    from segview.compress.job import STOPPED

    recipe = _long_recipe(tiny_model, calib_dir, out_dir)
    job = CompressionJob(recipe)
    working = threading.Event()
    read = []

    def reader() -> None:
        for update in job.updates(timeout=120):
            read.append(update)
            if update.kind == "log" and "int8-auto" in update.message:
                working.set()

    job.start()
    thread = threading.Thread(target=reader)
    thread.start()
    assert working.wait(120), [u.message for u in read]
    job.close()  # from this thread, while the reader blocks on the queue
    thread.join(60)
    assert not thread.is_alive()
    assert read[-1].kind == "cancelled" and read[-1].message == STOPPED
    assert [u for u in read if u.ends] == [read[-1]]
    assert job.state == "cancelled" and files_in(out_dir) == []
