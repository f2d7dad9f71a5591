"""The studio window, offscreen, with real sessions on tiny generated models."""

from __future__ import annotations

import json

import numpy as np
import pytest

import factories
from qt_tools import record_seconds
from segview.render.overlay import OverlayMode
from segview.ui.video_view import shown_size

TIMEOUT_MS = 30_000  # generous: two busy cores; each wait ends as soon as its state is reached


def wait_for_frames(qtbot, studio, count=3):
    """Wait until the window has shown ``count`` new pictures; returns the last one."""
    seen = []

    def shown():
        frame = studio.window.views[0].picture()
        if frame is not None and (not seen or frame is not seen[-1]):
            seen.append(frame)
        assert len(seen) >= count

    qtbot.waitUntil(shown, timeout=TIMEOUT_MS)
    return seen[-1]


def test_source_picker_lists_demo_and_opens_a_folder(qtbot, studio, tmp_path):
    factories.write_images(tmp_path / "imgs", factories.moving_square_frames(4))
    assert studio.open(f"folder:{tmp_path / 'imgs'}?loop=1", ["bright"])
    labels = [studio.window.source_picker.combo.itemText(i) for i in range(studio.window.source_picker.combo.count())]
    assert "Demo clip" in labels
    assert studio.window.source_picker.combo.currentData() == f"folder:{tmp_path / 'imgs'}?loop=1"
    picture = wait_for_frames(qtbot, studio)
    assert picture.shape == (120, 160, 3)


def test_bad_source_is_reported_and_the_window_keeps_running(qtbot, studio, slow_video, tmp_path):
    assert studio.open(str(slow_video), ["bright"])
    wait_for_frames(qtbot, studio)
    assert not studio.window.choose_source(f"folder:{tmp_path / 'nothing-here'}")
    assert "image folder not found" in studio.window.problem_label.text()
    wait_for_frames(qtbot, studio)  # the old source still plays


def test_pictures_reach_the_window_ready_for_their_views(qtbot, studio, slow_video, monkeypatch):
    """The consumer thread scales and converts each picture for its view, so the GUI thread only shows it."""
    shown = []
    original = studio.window._show
    monkeypatch.setattr(studio.window, "_show", lambda frame: (shown.append(frame), original(frame)))
    assert studio.open(str(slow_video), ["bright"])
    qtbot.waitUntil(lambda: any(f.views[0].screen is not None for f in shown), timeout=TIMEOUT_MS)
    frame = next(f for f in shown if f.views[0].screen is not None)
    view = studio.window.views[0]
    image = frame.views[0].image
    expected = shown_size((image.shape[1], image.shape[0]), view.screen_size)
    assert (frame.views[0].screen.width(), frame.views[0].screen.height()) == expected
    assert studio.engine.screen_sizes[0] == view.screen_size


def test_model_picker_runs_ticked_models_side_by_side(qtbot, studio, slow_video, model_dir):
    factories.brightness_model(model_dir / "second.onnx", layout="NHWC")
    studio.registry.add_folder(model_dir)
    assert studio.open(str(slow_video), ["bright"])
    studio.window.refresh_models()
    picker = studio.window.model_picker
    names = [picker.list.item(i).text() for i in range(picker.list.count())]
    assert names == ["bright", "second"]
    picker.list.item(1).setCheckState(picker.list.item(0).checkState())  # tick "second" as a user would
    qtbot.waitUntil(lambda: [m.name for m in studio.engine.models] == ["bright", "second"], timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: studio.window.views[1].picture() is not None, timeout=TIMEOUT_MS)
    assert studio.window.views[1].title == "second"


def test_bad_model_file_shows_an_error_and_keeps_running(qtbot, studio, slow_video, tmp_path):
    assert studio.open(str(slow_video), ["bright"])
    wait_for_frames(qtbot, studio)
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"definitely not a model")
    assert not studio.window.open_model_file(bad)
    assert "not a readable ONNX model" in studio.window.problem_label.text()
    assert [m.name for m in studio.engine.models] == ["bright"]
    wait_for_frames(qtbot, studio)


def test_opening_a_good_model_file_adds_a_view(qtbot, studio, slow_video, tmp_path):
    assert studio.open(str(slow_video), ["bright"])
    extra = factories.brightness_model(tmp_path / "extra.onnx")
    assert studio.window.open_model_file(extra)
    assert [m.name for m in studio.engine.models] == ["bright", "extra"]
    qtbot.waitUntil(lambda: studio.window.views[1].picture() is not None, timeout=TIMEOUT_MS)


@pytest.mark.parametrize("mode", [m for m in OverlayMode if m is not OverlayMode.ORIGINAL])
def test_each_overlay_mode_changes_the_picture(qtbot, studio, slow_video, mode):
    assert studio.open(str(slow_video), ["bright"])
    studio.window.overlay_controls.set_mode(OverlayMode.ORIGINAL)
    original = wait_for_frames(qtbot, studio)
    # The original view shows the frame itself.
    assert original.shape == (120, 160, 3)
    studio.window.overlay_controls.set_mode(mode)
    changed = wait_for_frames(qtbot, studio)
    bright = original.mean(axis=2) > 128
    assert studio.engine.overlay.mode is mode
    if mode is OverlayMode.MASK:
        assert set(np.unique(changed)) <= {0, 255}
    elif mode is OverlayMode.OUTLINE:
        assert (np.abs(changed.astype(int) - original).sum(axis=2) > 60).mean() > 0.01
    else:
        # Blend tints the person; blur and replace change the background.
        region = bright if mode is OverlayMode.BLEND else ~bright
        diff = np.abs(changed.astype(int) - original.astype(int)).sum(axis=2)
        assert diff[region].mean() > 20, mode


def test_comparison_shows_iou_between_two_views(qtbot, studio, slow_video, model_dir):
    factories.brightness_model(model_dir / "twin.onnx", layout="NHWC")
    studio.registry.add_folder(model_dir)
    assert studio.open(str(slow_video), ["bright", "twin"])
    assert studio.window.compare_controls.pair() == (0, 1)
    qtbot.waitUntil(lambda: studio.window.comparison_view.picture() is not None, timeout=TIMEOUT_MS)
    qtbot.waitUntil(
        lambda: studio.window.compare_controls.iou.text().startswith("IoU 0.9") or studio.window.compare_controls.iou.text() == "IoU 1.000", timeout=TIMEOUT_MS
    )
    t, iou = studio.engine.live.iou_series()
    assert len(iou) > 0 and (iou > 0.9).all()


def test_recording_from_the_studio(qtbot, studio, slow_video, tmp_path):
    assert studio.open(str(slow_video), ["bright"])
    folder = tmp_path / "session"
    studio.recording.start(folder)
    frames_csv = folder / "frames.csv"
    # Rows reach the disk while the session is still running.
    qtbot.waitUntil(lambda: frames_csv.exists() and len(frames_csv.read_text().splitlines()) > 5, timeout=TIMEOUT_MS)
    assert studio.recording.recording
    studio.recording.stop()
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["models"]["bright"]["fps"] > 0
    assert (folder / "machine.json").exists() and (folder / "settings.json").exists()


def test_video_end_is_reported(qtbot, studio, square_video):
    assert studio.open(f"file:{square_video}?realtime=0", ["bright"])
    qtbot.waitUntil(lambda: "ended" in studio.window.problem_label.text(), timeout=TIMEOUT_MS)
    assert not studio.engine.running
    assert studio.window.play_action.text() == "Play"
    # Play again starts the file over.
    studio.window.views[0].set_picture(None)
    studio.engine.play()
    wait_for_frames(qtbot, studio, count=1)


def test_model_failing_at_run_time_is_reported(qtbot, studio, slow_video):
    assert studio.open(str(slow_video), ["bright"])
    wait_for_frames(qtbot, studio)
    session = next(iter(studio.engine._sessions.values()))
    session._input = "no-such-input"  # every further run fails inside onnxruntime
    qtbot.waitUntil(lambda: "failed while running" in studio.window.problem_label.text(), timeout=TIMEOUT_MS)
    assert studio.window.isVisible()


def test_preferences_persist(qtbot, studio, slow_video):
    from segview.ui.settings_store import load_preferences, save_preferences

    assert studio.open(str(slow_video), ["bright"])
    studio.window.overlay_controls.set_mode(OverlayMode.OUTLINE)
    studio.window.overlay_controls.opacity.setValue(30)
    save_preferences(studio.window.preferences())
    prefs = load_preferences()
    assert prefs.overlay_mode is OverlayMode.OUTLINE
    assert prefs.opacity == pytest.approx(0.3)
    assert prefs.models == ("bright",)
    assert prefs.source == str(slow_video)  # as the user named it


def test_screenshot_of_the_window(qtbot, studio, slow_video, tmp_path):
    import cv2

    assert studio.open(str(slow_video), ["bright"])
    wait_for_frames(qtbot, studio, count=5)
    # The plots have drawn: the model's frame-rate curve has a point (a whole second measured and refreshed).
    fps_curves = studio.window.plots._fps_curves

    def fps_drawn() -> bool:
        shown = fps_curves["bright"].getData()[1] if "bright" in fps_curves else None
        return shown is not None and bool(np.isfinite(shown).any())

    qtbot.waitUntil(fps_drawn, timeout=TIMEOUT_MS)
    path = tmp_path / "studio.png"
    assert studio.window.grab().save(str(path))
    image = cv2.imread(str(path))
    assert image.shape[0] >= 700 and image.shape[1] >= 1100
    assert image.std() > 20


def test_recorded_sessions_open_export_and_compare(qtbot, studio, slow_video, tmp_path):
    import cv2

    assert studio.open(str(slow_video), ["bright"])
    folders = []
    for name in ("first", "second"):
        folders.append(record_seconds(qtbot, studio, tmp_path / name))
    dialog = studio.window.show_session(folders[0])
    qtbot.addWidget(dialog)
    assert dialog.summary_table.item(0, 0).text() == "bright"
    assert float(dialog.summary_table.item(0, 2).text()) > 0
    report = dialog.export()
    assert (report / "report.html").exists()
    fps_png = cv2.imread(str(report / "fps.png"))
    assert fps_png is not None and fps_png.std() > 5
    assert dialog.compare_with(folders[1])
    assert dialog.comparison.item(0, 3).text().endswith("x")
    # A folder that is not a session is reported, not raised.
    assert studio.window.show_session(tmp_path / "nope") is None
    assert studio.window.problem_label.text()


def test_a_retrying_live_source_says_why(qtbot, studio, slow_video):
    from segview.sources.base import FrameSource

    class AwayPhone(FrameSource):
        is_live = True
        name = "adb:FAKE"
        problem = "phone FAKE is not attached; waiting for it"

        def open(self):
            pass

        def _read_image(self):
            return None

    assert studio.open(str(slow_video), ["bright"])
    studio.engine._source = AwayPhone()
    studio.window._show_source_problem()
    assert "waiting for it" in studio.window.problem_label.text()
    AwayPhone.problem = None
    studio.window._show_source_problem()
    assert studio.window.problem_label.text() == ""


def test_the_studio_hands_the_gil_over_sooner_than_python_does():
    """The GUI thread's Python (painting, plots) must not hold up the pipeline's workers for Python's 5 ms."""
    import sys

    from segview.ui.app import GUI_SWITCH_INTERVAL_S, application

    before = sys.getswitchinterval()
    try:
        application()
        assert sys.getswitchinterval() == pytest.approx(GUI_SWITCH_INTERVAL_S, rel=1e-3)
        assert GUI_SWITCH_INTERVAL_S < 0.005
    finally:
        sys.setswitchinterval(before)
