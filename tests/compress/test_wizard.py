"""The compression wizard offscreen: a real (tiny) job to the end, cancelling, failures; the studio keeps running."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")


from PySide6.QtCore import Qt, QTimer  # noqa: E402

import factories  # noqa: E402
from compress import tiny  # noqa: E402
from compress.conftest import files_in  # noqa: E402
from qt_tools import close_studio, make_studio  # noqa: E402

JOB_TIMEOUT_MS = 90_000


@pytest.fixture
def studio(qtbot, model_dir, tiny_model, tmp_path):
    s = make_studio(qtbot, model_dir, workers=1)
    video = factories.write_video(tmp_path / "long.mp4", factories.moving_square_frames(300))
    assert s.open(str(video), ["tiny"])
    yield s
    close_studio(s)


def open_wizard(studio, out_dir, steps, **options):
    wizard = studio.window.open_compress()
    wizard.steps_page.set_model("tiny")
    wizard.steps_page.set_steps(steps)
    for step, values in options.items():
        wizard.steps_page.set_options(step.replace("_", "-"), **values)
    wizard.targets_page.out_edit.setText(str(out_dir))
    wizard.targets_page.rounds.setValue(2)
    return wizard


def go_to_run_page(wizard):
    while wizard.currentPage() is not wizard.run_page:
        current = wizard.currentPage()
        wizard.next()
        assert wizard.currentPage() is not current, f"stuck on {current.title()}: {current.subTitle()}"


def test_the_compress_action_opens_the_wizard(qtbot, studio):
    assert studio.window.compress_action in studio.window.findChildren(type(studio.window.compress_action))
    studio.window.compress_action.trigger()
    wizard = studio.window._compress_wizard
    assert wizard.isVisible()
    assert wizard.steps_page.model_combo.currentData() == "tiny"


def test_a_job_runs_to_the_end_and_the_result_runs_beside_the_original(qtbot, studio, calib_dir, out_dir):
    wizard = open_wizard(studio, out_dir, ["prune", "cluster"], cluster={"clusters": 8})
    wizard.data_page.calib_edit.setText(str(calib_dir))
    with qtbot.waitSignal(wizard.job_finished, timeout=JOB_TIMEOUT_MS) as finished:
        go_to_run_page(wizard)
    result = finished.args[0]
    assert result.model_path == out_dir / "tiny-sparse50-k8.onnx" and result.model_path.exists()
    # Listed in the studio's model picker at once, and one click runs it beside its source.
    picker = studio.window.model_picker.list
    assert "tiny-sparse50-k8" in [picker.item(i).text() for i in range(picker.count())]
    assert wizard.run_page.results.rowCount() >= 4 and not wizard.run_page.chart.pixmap().isNull()
    assert wizard.run_page.progress.value() == 1000
    wizard.run_page.compare_button.click()
    qtbot.waitUntil(lambda: [m.name for m in studio.engine.models] == ["tiny", "tiny-sparse50-k8"], timeout=10_000)
    qtbot.waitUntil(lambda: studio.window.views[1].picture() is not None, timeout=10_000)


def test_the_wizard_saves_a_recipe_the_command_line_can_replay(qtbot, studio, calib_dir, out_dir, tmp_path):
    from segview.compress.recipe import Recipe

    wizard = open_wizard(studio, out_dir, ["int8-auto"])
    wizard.data_page.calib_edit.setText(str(calib_dir))
    wizard.targets_page.iou_drop.setValue(2.5)
    path = tmp_path / "recipe.json"
    assert wizard.save_recipe(path)
    recipe = Recipe.load(path)
    assert recipe.model == str(studio.registry.resolve("tiny").path)  # the job's process knows no "tiny"
    assert recipe.steps[0].name == "int8-auto" and recipe.steps[0].config.max_iou_drop == pytest.approx(0.025)
    assert recipe.calibration.source == str(calib_dir) and recipe.out == str(out_dir)


def test_cancelling_leaves_no_files_and_the_studio_keeps_running(qtbot, studio, calib_dir, out_dir):
    wizard = open_wizard(studio, out_dir, ["prune", "int8-auto"], int8_auto={"max_float_nodes": 50})
    wizard.data_page.calib_edit.setText(str(calib_dir))
    wizard.targets_page.iou_drop.setValue(0.0)
    go_to_run_page(wizard)
    qtbot.waitUntil(lambda: "int8-auto" in wizard.run_page.log.toPlainText(), timeout=JOB_TIMEOUT_MS)
    with qtbot.waitSignal(wizard.job_cancelled, timeout=30_000):
        wizard.run_page.cancel_button.click()
    assert "nothing was written" in wizard.run_page.status.text()
    assert files_in(out_dir) == []
    frames = studio.window.views[0].picture()
    qtbot.waitUntil(lambda: studio.window.views[0].picture() is not frames, timeout=10_000)


def test_a_failing_job_is_reported_in_the_wizard(qtbot, studio, tmp_path, out_dir):
    empty = tmp_path / "empty"
    empty.mkdir()
    wizard = open_wizard(studio, out_dir, ["int8-static"])
    wizard.data_page.calib_edit.setText(str(empty))
    with qtbot.waitSignal(wizard.job_failed, timeout=JOB_TIMEOUT_MS) as failed:
        go_to_run_page(wizard)
    assert "no images in calibration folder" in failed.args[0]
    assert "Failed" in wizard.run_page.status.text()
    assert files_in(out_dir) == []
    assert studio.engine.running


def test_steps_that_need_frames_keep_the_data_page_from_moving_on(qtbot, studio, out_dir):
    wizard = open_wizard(studio, out_dir, ["int8-static"])
    wizard.next()
    assert wizard.currentPage() is wizard.data_page
    assert not wizard.data_page.isComplete()
    wizard.data_page.calib_edit.setText("demo")
    assert wizard.data_page.isComplete()


def test_frames_captured_from_the_live_source_become_the_calibration_folder(qtbot, studio, out_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("SEGVIEW_MODEL_PATH", str(tmp_path / "user-models"))
    wizard = open_wizard(studio, out_dir, ["int8-static"])
    wizard.data_page.capture_count.setValue(5)
    assert wizard.data_page.capture_live_frames()
    qtbot.waitUntil(lambda: wizard.data_page.calib_edit.text() != "", timeout=20_000)
    folder = tmp_path / "user-models" / "calibration"
    saved = list(folder.rglob("*.png"))
    assert len(saved) == 5 and wizard.data_page.calib_edit.text() == str(saved[0].parent)


def test_the_data_page_hears_of_each_captured_frame_as_it_arrives_not_by_a_timer(qtbot, studio, out_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("SEGVIEW_MODEL_PATH", str(tmp_path / "user-models"))
    wizard = open_wizard(studio, out_dir, ["int8-static"])
    page = wizard.data_page
    gui = threading.get_ident()
    heard: list[tuple[str, bool]] = []
    page.capture_changed.connect(lambda: heard.append((page.capture_status.text(), threading.get_ident() == gui)))
    page.capture_count.setValue(5)
    assert page.capture_live_frames()
    qtbot.waitUntil(lambda: page.calib_edit.text() != "", timeout=20_000)
    qtbot.waitUntil(lambda: len(heard) == 6, timeout=20_000)  # one per frame kept, one once they were saved
    assert page.findChildren(QTimer) == []
    assert all(on_gui for _, on_gui in heard)
    assert heard[-1][0] == f"5 frames saved in {page.calib_edit.text()}"


def test_the_wizard_starts_from_the_model_the_studio_runs(qtbot, studio, model_dir):
    variant = factories.brightness_model(model_dir / "a-variant.onnx")
    studio.window.registry.add_file(variant)
    assert studio.window.choose_models(["a-variant"])
    wizard = studio.window.open_compress()
    assert wizard.steps_page.model_combo.currentData() == "a-variant"
    assert wizard.steps_page.model_combo.itemData(0) != "a-variant"


def item_for(wizard, name):
    steps = wizard.steps_page.steps_list
    return next(steps.item(i) for i in range(steps.count()) if steps.item(i).data(Qt.ItemDataRole.UserRole) == name)


def enabled(item) -> bool:
    return bool(item.flags() & Qt.ItemFlag.ItemIsEnabled)


def test_the_steps_arrive_from_a_worker_and_the_options_form_is_built_on_selection(qtbot, studio):
    from segview.compress.step import all_steps

    wizard = studio.window.open_compress()
    page = wizard.steps_page
    qtbot.waitUntil(lambda: page.steps_list.count() == len(all_steps()), timeout=20_000)
    assert page.forms == {}
    page.steps_list.setCurrentItem(item_for(wizard, "cluster"))
    assert page.options_stack.currentWidget() is page.forms["cluster"]


def test_an_impossible_step_is_disabled_with_its_reason(qtbot, studio, out_dir):
    wizard = open_wizard(studio, out_dir, ["fp16"])
    page = wizard.steps_page
    for name in ("int8-static", "int8-dynamic", "int8-auto"):
        assert not enabled(item_for(wizard, name)), name
        assert "after fp16 they are float16" in item_for(wizard, name).toolTip()
    assert enabled(item_for(wizard, "prune")) and enabled(item_for(wizard, "cluster"))
    assert "int8-static needs float32" in page.blocked_label.text()
    assert page.isComplete() and wizard.next_button.isEnabled()
    # Unticking fp16 frees them again.
    page.set_steps([])
    # (recover stays greyed out with nothing ticked: it follows a pruning step, by its own declaration)
    assert enabled(item_for(wizard, "int8-static")) and "int8" not in page.blocked_label.text()


def test_an_impossible_order_keeps_the_wizard_on_the_first_page(qtbot, studio, out_dir):
    wizard = open_wizard(studio, out_dir, ["fp16", "int8-static"])
    assert "This order cannot run: int8-static needs float32" in wizard.steps_page.problem_label.text()
    assert not wizard.next_button.isEnabled()
    assert not wizard.next() and wizard.currentPage() is wizard.steps_page


def test_a_quantized_model_offers_no_int8_step(qtbot, studio, model_dir):
    quantized = tiny.tiny_segmenter(model_dir / "tiny-q.onnx", name="tiny-q")
    factories.write_card(quantized, name="tiny-q", compression={"steps": [{"step": "int8-auto"}]})
    studio.window.registry.add_file(quantized)
    wizard = studio.window.open_compress()
    wizard.steps_page.refresh_models()
    assert wizard.steps_page.set_model("tiny-q")
    wizard.steps_page.ensure_steps()
    assert "tiny-q has int8 (quantized) weights" in item_for(wizard, "int8-static").toolTip()
    assert not enabled(item_for(wizard, "int8-static")) and not enabled(item_for(wizard, "fp16"))


def test_after_a_failure_back_works_and_the_fields_are_kept(qtbot, studio, tmp_path, calib_dir, out_dir):
    empty = tmp_path / "empty"
    empty.mkdir()
    wizard = open_wizard(studio, out_dir, ["int8-static"])
    wizard.data_page.calib_edit.setText(str(empty))
    wizard.targets_page.name_edit.setText("again")
    with qtbot.waitSignal(wizard.job_failed, timeout=JOB_TIMEOUT_MS):
        go_to_run_page(wizard)
    assert wizard.back_button.isEnabled()
    wizard.back_button.click()
    assert wizard.currentPage() is wizard.targets_page and wizard.targets_page.name_edit.text() == "again"
    wizard.back()
    assert wizard.currentPage() is wizard.data_page and wizard.data_page.calib_edit.text() == str(empty)
    wizard.data_page.calib_edit.setText(str(calib_dir))
    with qtbot.waitSignal(wizard.job_finished, timeout=JOB_TIMEOUT_MS) as finished:
        go_to_run_page(wizard)
    assert finished.args[0].model_path == out_dir / "again.onnx"


def test_reopening_keeps_the_fields_of_the_last_use(qtbot, studio, out_dir):
    wizard = open_wizard(studio, out_dir, ["prune", "cluster"], cluster={"clusters": 8})
    wizard.targets_page.name_edit.setText("kept")
    wizard.next()
    wizard.reject()
    studio.window.compress_action.trigger()
    again = studio.window._compress_wizard
    assert again is wizard and again.isVisible() and again.currentPage() is again.steps_page
    assert again.steps_page.chosen_steps() == ["prune", "cluster"]
    assert again.steps_page.step_values("cluster")["clusters"] == 8
    assert again.targets_page.name_edit.text() == "kept" and again.targets_page.out_edit.text() == str(out_dir)


def test_the_studio_pauses_while_the_job_measures_speed(qtbot, studio, out_dir):
    seen = []
    studio.engine.state_changed.connect(lambda: seen.append(studio.engine.running))
    wizard = open_wizard(studio, out_dir, ["fp16"])
    measuring = []
    wizard.run_page.log.textChanged.connect(
        lambda: measuring.append(studio.engine.running) if "measuring latency" in wizard.run_page.log.toPlainText() else None
    )
    with qtbot.waitSignal(wizard.job_finished, timeout=JOB_TIMEOUT_MS) as finished:
        go_to_run_page(wizard)
    latencies = finished.args[0].report.latency
    assert latencies and all(lat.beside == "nothing (studio paused)" for lat in latencies)
    assert measuring and measuring[0] is False  # paused by the time the child was told to go on
    assert False in seen  # it was paused ...
    qtbot.waitUntil(lambda: studio.engine.running, timeout=10_000)  # ... and plays again
    assert "measured beside" in [wizard.run_page.results.item(i, 0).text() for i in range(wizard.run_page.results.rowCount())]


def test_a_wrong_ticked_order_does_not_grey_out_the_other_steps(qtbot, studio, out_dir):
    wizard = open_wizard(studio, out_dir, ["fp16", "int8-static"])
    # Only the ticked pair is wrong: the steps that add no new problem stay available to tick.
    assert enabled(item_for(wizard, "prune")) and enabled(item_for(wizard, "cluster"))
    assert wizard.steps_page.blocked_label.text() == ""
