"""The Compress wizard on its own, with no studio window: what it says before a run, and the signals it sends."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from segview.compress.int8_note import int8_note  # noqa: E402
from segview.ui.compress_wizard import CompressWizard  # noqa: E402


@pytest.fixture
def wizard(qtbot, registry):
    w = CompressWizard(registry)
    qtbot.addWidget(w)
    w.show()
    assert w.steps_page.set_model("tiny")
    w.steps_page.ensure_steps()
    yield w
    w.stop_job()


def test_the_int8_note_shows_while_an_int8_step_is_ticked_and_hides_otherwise(qtbot, wizard):
    note = wizard.int8_note
    assert not note.isVisible() and note.text() == ""
    for int8 in ("int8-static", "int8-dynamic", "int8-auto"):
        wizard.steps_page.set_steps(["prune", int8])
        assert note.isVisible(), int8
        assert note.text() == int8_note() and "not faster" in note.text()
    wizard.steps_page.set_steps(["fp16", "prune"])
    assert not note.isVisible() and note.text() == ""
    wizard.steps_page.set_steps([])
    assert not note.isVisible()


class Receiver:
    """What a window would connect: a plain object that only records what the wizard sends."""

    def __init__(self, wizard) -> None:
        self.events: list[tuple[str, object]] = []
        for name in ("result_registered", "compare_requested", "job_finished", "job_failed", "job_cancelled"):
            getattr(wizard, name).connect(lambda *args, name=name: self.events.append((name, args[0] if args else None)))

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]


def run_to_the_end(qtbot, wizard, receiver, *, ended: str) -> None:
    while wizard.currentPage() is not wizard.run_page:
        current = wizard.currentPage()
        wizard.next()
        assert wizard.currentPage() is not current, f"stuck on {current.title()}: {current.subTitle()}"
    qtbot.waitUntil(lambda: ended in receiver.kinds(), timeout=JOB_TIMEOUT_MS)


JOB_TIMEOUT_MS = 90_000


def test_without_a_window_the_wizard_reports_a_finished_job_through_its_signals(qtbot, wizard, out_dir, registry):
    assert wizard.parent() is None and wizard.engine is None
    receiver = Receiver(wizard)
    wizard.steps_page.set_steps(["fp16"])
    wizard.targets_page.out_edit.setText(str(out_dir))
    wizard.targets_page.rounds.setValue(2)
    run_to_the_end(qtbot, wizard, receiver, ended="job_finished")
    assert receiver.kinds() == ["result_registered", "job_finished"]
    name, result = receiver.events[0][1], receiver.events[1][1]
    assert registry.resolve(name).path == result.model_path and result.model_path.exists()
    assert all(lat.beside == "nothing from a studio (no studio window)" for lat in result.report.latency)
    assert not wizard.run_page.compare_button.isEnabled()  # no studio to run it in
    assert wizard.compare_with_original()
    assert receiver.events[-1] == ("compare_requested", ["tiny", name])


def test_without_a_window_a_failing_job_is_a_signal_too(qtbot, wizard, out_dir, tmp_path):
    receiver = Receiver(wizard)
    empty = tmp_path / "empty"
    empty.mkdir()
    wizard.steps_page.set_steps(["int8-static"])
    wizard.data_page.calib_edit.setText(str(empty))
    wizard.targets_page.out_edit.setText(str(out_dir))
    run_to_the_end(qtbot, wizard, receiver, ended="job_failed")
    assert receiver.kinds() == ["job_failed"] and "no images in calibration folder" in receiver.events[0][1]
    assert wizard.back_button.isEnabled() and "Failed" in wizard.run_page.status.text()


def test_the_iou_target_goes_to_the_steps_that_declare_it(qtbot, wizard, calib_dir):
    steps = wizard.steps_page.steps()
    targeted = {s.name for s in steps if s.takes_iou_target}
    assert {"int8-auto", "cluster", "prune-channels"} <= targeted and not targeted & {"prune", "fp16", "int8-static"}  # their own declarations
    wizard.steps_page.set_steps(["prune", "prune-channels", "cluster"])
    wizard.data_page.calib_edit.setText(str(calib_dir))
    wizard.targets_page.iou_drop.setValue(2.5)
    recipe = wizard.recipe()
    drops = {spec.name: getattr(spec.config, "max_iou_drop", None) for spec in recipe.steps}
    assert drops == {"prune": None, "prune-channels": pytest.approx(0.025), "cluster": pytest.approx(0.025)}
    wizard.next()
    wizard.next()
    assert wizard.currentPage() is wizard.targets_page
    titles = [s.title for s in steps if s.takes_iou_target]
    assert all(title in wizard.subtitle_label.text() for title in titles)


def test_the_run_page_hears_the_job_from_a_worker_thread_not_a_timer(qtbot, wizard, out_dir, monkeypatch):
    from PySide6.QtCore import QTimer

    from segview.compress.job import CompressionJob

    gui = threading.get_ident()
    readers: list[int] = []
    real_updates = CompressionJob.updates

    def updates(job, timeout=None):
        readers.append(threading.get_ident())
        yield from real_updates(job, timeout)

    monkeypatch.setattr(CompressionJob, "updates", updates)
    asked: list[tuple[bool, bool]] = []
    real_on_measuring = wizard._on_measuring
    monkeypatch.setattr(wizard, "_on_measuring", lambda measuring: asked.append((measuring, threading.get_ident() == gui)) or real_on_measuring(measuring))
    page = wizard.run_page
    values: list[tuple[int, bool]] = []
    logged: list[bool] = []
    page.progress.valueChanged.connect(lambda value: values.append((value, threading.get_ident() == gui)))
    page.log.textChanged.connect(lambda: logged.append(threading.get_ident() == gui))
    receiver = Receiver(wizard)
    wizard.steps_page.set_steps(["fp16"])
    wizard.targets_page.out_edit.setText(str(out_dir))
    wizard.targets_page.rounds.setValue(2)
    run_to_the_end(qtbot, wizard, receiver, ended="job_finished")
    assert page.findChildren(QTimer) == []
    assert len(readers) == 1 and readers[0] != gui  # one blocking reader, off the GUI thread
    assert page.worker is not None and page.worker.done and not page.running
    # The bar moved during the run (not only at the end), and every change was made on the GUI thread.
    assert any(0 < value < 1000 for value, _ in values) and values[-1][0] == 1000
    assert all(on_gui for _, on_gui in values) and logged and all(logged)
    assert "step 1/1" in page.log.toPlainText()
    # The pause for each measurement was asked of the GUI thread, and ended.
    assert asked and all(on_gui for _, on_gui in asked) and [m for m, _ in asked] == [True, False] * (len(asked) // 2)
