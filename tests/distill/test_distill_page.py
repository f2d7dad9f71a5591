"""The studio's distillation page, offscreen: install hint without torch, a run that registers
its student in the window, cancel, and a failure that leaves the studio running."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from qt_tools import close_studio, make_studio  # noqa: E402

pytest.importorskip("pytestqt")

TIMEOUT_MS = 60_000


@pytest.fixture
def studio(qtbot, model_dir, teacher):
    s = make_studio(qtbot, model_dir, workers=1)
    yield s
    dialog = getattr(s.window, "_distill_dialog", None)
    if dialog is not None:
        dialog.page.shutdown()
    close_studio(s)


def _fill(page, frames, out, minutes):
    page.teacher_combo.setCurrentText("teacher")
    page.preset_combo.setCurrentIndex(page.preset_combo.findText("tiny", Qt.MatchFlag.MatchStartsWith))
    page.pool.sources.clear()
    page.pool.sources.add("images", frames)
    page.minutes_spin.setValue(minutes)
    page.batch_spin.setValue(4)
    page.out_edit.setText(str(out))


def test_slim_presets_carry_the_shipped_students_recipe(qtbot, studio):
    page = studio.window.open_distill().page
    page.teacher_combo.setCurrentText("teacher")
    page.preset_combo.setCurrentIndex(page.preset_combo.findText("accurate", Qt.MatchFlag.MatchStartsWith))
    page.out_edit.setText("x.onnx")
    page.pool.sources.add("images", ".")
    config = page.config()
    assert (config.arch, config.resolution, config.slim_gates) == ("slim", 224, ("multiply_9",))
    assert (config.loss.hint, config.loss.hard_weight, config.train.learning_rate) == ("none", 0.0, 1e-4)
    assert not config.slim_skip_last_stage and config.train.mosaic == 0.0
    page.preset_combo.setCurrentIndex(page.preset_combo.findText("fast", Qt.MatchFlag.MatchStartsWith))
    config = page.config()
    assert (config.arch, config.resolution, config.slim_gates, config.slim_skip_last_stage) == ("slim", 224, None, True)
    assert (config.loss.hint, config.loss.hard_weight, config.train.learning_rate, config.train.mosaic) == ("none", 0.0, 2e-4, 0.5)


def test_without_torch_the_page_says_how_to_install(qtbot, studio, monkeypatch):
    from segview.distill import availability

    monkeypatch.setattr(availability, "torch_available", lambda: False)
    monkeypatch.setattr(availability, "editable_checkout", lambda: None)  # as installed from a package
    page = studio.window.open_distill().page
    assert not page.install_label.isHidden()
    assert 'pip install "segview[distill]"' in page.install_label.text()
    assert not page.start_button.isEnabled()
    assert page.start() is False and "pip install" in page.status_label.text()
    assert page.job is None


def test_a_run_registers_its_student_beside_the_teacher(qtbot, studio, square_frames, model_dir):
    pytest.importorskip("torch")
    page = studio.window.open_distill().page
    out = model_dir / "page-student.onnx"
    _fill(page, square_frames, out, minutes=0.03)
    assert page.install_label.isHidden()
    assert page.start()
    qtbot.waitUntil(lambda: page.job is None, timeout=TIMEOUT_MS)
    assert page.outcome is not None and not page.outcome.cancelled, page.status_label.text()
    assert "faster than the teacher" in page.status_label.text()
    assert "page-student" in studio.window.registry.names()
    picker = studio.window.model_picker
    assert "page-student" in [picker.list.item(i).text() for i in range(picker.list.count())]
    assert len(page.losses) > 0 and len(page.canvas.loss_curve.getData()[0]) == len(page.losses)
    # What the card records, shown after the run: each source with its count, and both figures.
    assert not page.summary_label.isHidden()
    assert "frames (images): " in page.summary_label.text() and "labelled IoU " in page.summary_label.text()


def test_the_pool_takes_any_mix_of_sources_composites_and_a_selection_pool(qtbot, studio, tmp_path):
    page = studio.window.open_distill().page
    page.teacher_combo.setCurrentText("teacher")
    page.out_edit.setText(str(tmp_path / "s.onnx"))
    pool = page.pool
    for kind, value in (
        ("images", tmp_path / "a"),
        ("images", tmp_path / "b"),
        ("video", "clip.mp4"),
        ("source", "camera:0"),
        ("recording", tmp_path / "session"),
    ):
        pool.sources.add(kind, value)
    pool.sources.add("images", tmp_path / "a")  # twice: listed once
    pool.backgrounds.add("images", tmp_path / "rooms")
    pool.composites_spin.setValue(12)
    pool.selection.add("images", tmp_path / "unseen")
    pool.selection.add("video", "other.mp4")
    pool.validate_spin.setValue(12.5)
    config = page.config()
    assert config.data.images == (tmp_path / "a", tmp_path / "b") and config.data.videos == ("clip.mp4", "camera:0")
    assert config.data.recordings == (tmp_path / "session",) and config.data.backgrounds == (tmp_path / "rooms",) and config.data.composites == 12
    assert config.select.images == (tmp_path / "unseen",) and config.select.videos == ("other.mp4",) and config.train.validate_every_s == 12.5
    pool.sources.list.item(0).setSelected(True)
    pool.sources.remove_selected()
    assert page.config().data.images == (tmp_path / "b",)
    pool.composites_spin.setValue(12)
    pool.backgrounds.clear()
    assert page.start() is False and "--composites needs --backgrounds" in page.status_label.text() and page.job is None


def test_cancel_stops_the_run_and_writes_no_model(qtbot, studio, square_frames, model_dir):
    pytest.importorskip("torch")
    page = studio.window.open_distill().page
    out = model_dir / "cancelled.onnx"
    _fill(page, square_frames, out, minutes=10)
    assert page.start()
    qtbot.waitUntil(lambda: len(page.losses) >= 2, timeout=TIMEOUT_MS)
    page.cancel()
    qtbot.waitUntil(lambda: page.job is None, timeout=TIMEOUT_MS)
    assert page.outcome.cancelled and "cancelled after" in page.status_label.text()
    assert not out.exists()
    assert page.start_button.isEnabled()


def test_a_failed_run_is_reported_and_the_studio_keeps_running(qtbot, studio, tmp_path, model_dir):
    pytest.importorskip("torch")
    empty = tmp_path / "empty"
    empty.mkdir()
    page = studio.window.open_distill().page
    _fill(page, empty, model_dir / "s.onnx", minutes=1)
    assert page.start()
    qtbot.waitUntil(lambda: page.job is None, timeout=TIMEOUT_MS)
    assert "no frames to learn from" in page.status_label.text()
    assert studio.window.isVisible() and page.start_button.isEnabled()


def test_the_page_starts_from_the_model_the_studio_runs(qtbot, studio, model_dir):
    import factories

    variant = factories.brightness_model(model_dir / "a-variant.onnx")
    studio.window.registry.add_file(variant)
    names = studio.window.registry.names()
    assert names.index("a-variant") > 0  # not what a page defaulting to the first name would pick
    assert studio.window.choose_models(["a-variant"])
    page = studio.window.open_distill().page
    assert page.teacher_combo.currentText() == "a-variant"
    assert "a-variant-student" in page.out_edit.text()
