"""Demo features of the studio window: mask threshold, screenshot, video recording, full screen, drag and drop.

Real parts throughout: onnxruntime sessions on generated models, the real
window offscreen, PNGs read back with OpenCV and MP4s decoded with PyAV.
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

import factories
from segview.inference.postprocess import binary_mask, soft_alpha
from segview.recording.video_writer import VideoWriter
from segview.render.mosaic import mosaic
from segview.render.overlay import OverlayMode
from segview.ui.screenshot import composited_picture
from segview.ui.settings_store import StudioPreferences, load_preferences, save_preferences

TIMEOUT_MS = 30_000  # generous: two busy cores; each wait ends as soon as its state is reached


@pytest.fixture
def still_folder(tmp_path):
    """One still frame, looped: every composed picture is the same, so pictures can be compared."""
    factories.write_images(tmp_path / "still", [factories.bright_square_frame(160, 120)])
    return f"folder:{tmp_path / 'still'}?loop=1"


def _new_pictures(qtbot, engine, count):
    """Wait until ``count`` pictures composed after this call have been taken; returns the last one."""
    seen = []

    def enough():
        picture = engine.latest_picture()
        if picture is not None and (not seen or picture is not seen[-1]):
            seen.append(picture)
        assert len(seen) > count

    qtbot.waitUntil(enough, timeout=TIMEOUT_MS)
    return seen[-1]


def _foreground(picture) -> int:
    return int(np.count_nonzero(picture.views[0].image[..., 0] > 127))


# -- threshold ------------------------------------------------------------------


def test_raising_the_threshold_shrinks_the_mask_on_a_known_probability():
    ramp = np.tile(np.linspace(0.0, 1.0, 101, dtype=np.float32), (10, 1))  # 0.00 ... 1.00 left to right
    counts = [int(binary_mask(ramp, (101, 10), t).sum()) // 10 for t in (0.05, 0.3, 0.5, 0.7, 0.95)]
    assert counts == sorted(counts, reverse=True) and len(set(counts)) == 5
    assert abs(counts[1] - 70) <= 1 and abs(counts[3] - 30) <= 1  # columns above the threshold
    # The soft edge of blur/replace follows: the threshold lands on 0.5, 0 and 1 stay put.
    assert soft_alpha(np.float32([0.0, 0.7, 1.0]), 0.7).tolist() == pytest.approx([0.0, 0.5, 1.0])


def test_threshold_control_changes_the_overlay_live_and_is_remembered(qtbot, studio, still_folder):
    window = studio.window
    assert studio.open(still_folder, ["bright"])
    window.overlay_controls.set_mode(OverlayMode.MASK)
    counts = {}
    for value in (0.05, 0.5, 0.95):
        window.overlay_controls.threshold.setValue(value)
        assert studio.engine.mask_threshold == pytest.approx(value)
        counts[value] = _foreground(_new_pictures(qtbot, studio.engine, 2))
    assert counts[0.05] > counts[0.5] > counts[0.95] > 0
    assert window.preferences().mask_threshold == pytest.approx(0.95)
    save_preferences(window.preferences())
    assert load_preferences().mask_threshold == pytest.approx(0.95)
    window.apply_preferences(StudioPreferences(mask_threshold=0.3))
    assert studio.engine.mask_threshold == pytest.approx(0.3)


# -- screenshot -----------------------------------------------------------------


def test_screenshot_saves_the_composed_tiles_at_full_resolution(qtbot, studio, still_folder, tmp_path):
    window = studio.window
    window.demo.screenshots_dir = tmp_path / "shots"
    assert studio.open(still_folder, ["bright"])
    shown = _new_pictures(qtbot, studio.engine, 2)
    with qtbot.waitSignal(window.demo.screenshots.saved, timeout=TIMEOUT_MS) as saved:
        window.demo.screenshot_action.trigger()
    path = saved.args[0]
    assert path.parent == tmp_path / "shots" and path.suffix == ".png"
    assert str(path) in window.statusBar().currentMessage()
    image = cv2.imread(str(path))
    assert image.shape == (120, 160, 3)  # the frame's resolution, whatever the window's size
    assert np.abs(image.astype(int) - composited_picture(shown).astype(int)).mean() < 1.0
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # nothing temporary left


def test_screenshot_into_an_unusable_folder_is_reported(qtbot, studio, still_folder, tmp_path):
    window = studio.window
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    window.demo.screenshots_dir = blocker / "shots"
    assert studio.open(still_folder, ["bright"])
    _new_pictures(qtbot, studio.engine, 1)
    with qtbot.waitSignal(window.demo.screenshots.failed, timeout=TIMEOUT_MS):
        window.demo.screenshot_action.trigger()
    assert "cannot save screenshot" in window.problem_label.text()
    _new_pictures(qtbot, studio.engine, 2)  # still running


def test_mosaic_lays_tiles_out_like_the_window():
    tiles = [(f"m{i}", np.full((10, 20, 3), 40 * i, np.uint8)) for i in range(5)]
    assert mosaic(tiles[:3]).shape == (10, 3 * 20 + 2 * 4, 3)  # one row of three
    assert mosaic(tiles).shape == (2 * 10 + 4, 3 * 20 + 2 * 4, 3)  # then rows of three
    wide = mosaic([("a", tiles[0][1]), ("b", np.full((10, 40, 3), 200, np.uint8))])
    assert wide.shape == (10, 44, 3)  # a tile of another size is fitted into the first's size


# -- video ------------------------------------------------------------------------


def _decode(path: Path) -> tuple[list[np.ndarray], list[int], str]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        return [f.to_ndarray(format="bgr24") for f in frames], [f.pts for f in frames], stream.codec_context.name


def test_record_video_writes_the_composed_frames_to_mp4(qtbot, studio, still_folder, tmp_path):
    window = studio.window
    window.demo.videos_dir = tmp_path / "videos"
    assert studio.open(still_folder, ["bright"])
    shown = _new_pictures(qtbot, studio.engine, 1)
    composed = []
    studio.engine.add_picture_tap(lambda picture, t: composed.append(picture))
    window.demo.record_video_action.trigger()
    assert window.demo.video.recording
    writer = window.demo.video.writer
    qtbot.waitUntil(lambda: writer.frames >= 12, timeout=TIMEOUT_MS)
    with qtbot.waitSignal(window.demo.video.finished, timeout=TIMEOUT_MS) as done:
        window.demo.record_video_action.trigger()
    result = done.args[0]
    assert result.problem is None and result.path.exists() and not window.demo.record_video_action.isChecked()
    images, pts, codec = _decode(result.path)
    assert codec == "h264" and len(images) == result.frames >= 12
    assert result.frames + result.dropped <= len(composed)  # every picture handed over is in the file or counted as dropped
    assert pts == sorted(pts) and len(set(pts)) == len(pts)
    assert images[0].shape == (120, 160, 3)
    expected = composited_picture(shown).reshape(-1, 3).mean(axis=0)
    assert np.abs(images[-1].reshape(-1, 3).mean(axis=0) - expected).max() < 6  # what was shown (H.264 is lossy)
    assert sorted(p.name for p in result.path.parent.iterdir()) == [result.path.name]  # the temporary name is gone


def test_closing_the_window_while_recording_finishes_the_file(qtbot, studio, still_folder, tmp_path):
    window = studio.window
    window.demo.videos_dir = tmp_path / "videos"
    assert studio.open(still_folder, ["bright"])
    _new_pictures(qtbot, studio.engine, 1)
    window.demo.record_video_action.trigger()
    writer = window.demo.video.writer
    qtbot.waitUntil(lambda: writer.frames >= 3, timeout=TIMEOUT_MS)
    window.close()
    assert writer.finished and writer.wait(0).path == writer.path
    assert len(_decode(writer.path)[0]) == writer.wait(0).frames


def test_record_video_into_an_unusable_folder_is_reported(qtbot, studio, still_folder, tmp_path):
    window = studio.window
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    window.demo.videos_dir = blocker / "videos"
    assert studio.open(still_folder, ["bright"])
    window.demo.record_video_action.trigger()
    assert "cannot record video" in window.problem_label.text()
    assert not window.demo.record_video_action.isChecked() and not window.demo.video.recording


def test_video_writer_falls_back_to_mpeg4_and_says_so(tmp_path):
    writer = VideoWriter(tmp_path / "clip.mp4", codecs=("no-such-encoder", "mpeg4"))
    writer.start()
    for i in range(5):
        assert writer.submit(np.full((61, 81, 3), 50 * i, np.uint8), t=i / 10)
    writer.stop()
    result = writer.wait(30)
    assert result.codec == "mpeg4" and "no-such-encoder" in result.note and "mpeg4" in result.note
    images, pts, codec = _decode(result.path)
    assert codec == "mpeg4" and len(images) == 5 and images[0].shape == (60, 80, 3)  # even size for yuv420p
    assert pts[-1] > pts[0]
    assert result.seconds == pytest.approx(0.4)


def test_video_writer_drops_and_counts_when_the_encoder_is_behind(tmp_path):
    release = []
    writer = VideoWriter(tmp_path / "clip.mp4", queue_size=2, prepare=lambda item: (_hold_until(release), item)[1])
    writer.start()
    accepted = sum(writer.submit(np.zeros((32, 32, 3), np.uint8), t=i / 30) for i in range(10))
    release.append(True)
    writer.stop()
    result = writer.wait(30)
    assert result.dropped == 10 - accepted > 0 and result.frames == accepted


def _hold_until(release: list) -> None:
    """Holds the encoder thread until the test lets it go (an encoder that has fallen behind)."""
    import time

    while not release:
        time.sleep(0.01)


# -- full screen --------------------------------------------------------------------


def test_f11_enters_full_screen_and_escape_leaves_it(qtbot, studio):
    window = studio.window
    window.demo.full_screen_action.trigger()
    qtbot.waitUntil(window.isFullScreen, timeout=TIMEOUT_MS)
    assert window.demo.leave_full_screen_action.isEnabled()
    window.demo.leave_full_screen_action.trigger()  # what Esc does
    qtbot.waitUntil(lambda: not window.isFullScreen(), timeout=TIMEOUT_MS)
    assert not window.demo.full_screen_action.isChecked() and not window.demo.leave_full_screen_action.isEnabled()
    keys = {a.shortcut().toString() for a in window.findChildren(QAction)}
    assert {"F11", "Esc", "Ctrl+Shift+S", "Ctrl+Shift+R"} <= keys


# -- drag and drop --------------------------------------------------------------------


def _drop(window, path: Path) -> bool:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(QPoint(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    return drop.isAccepted()


def test_dropping_a_video_a_folder_and_a_model_onto_the_window(qtbot, studio, still_folder, slow_video, tmp_path, model_dir):
    window = studio.window
    assert studio.open(still_folder, ["bright"])
    assert _drop(window, slow_video)
    assert studio.engine.source_name == f"file:{slow_video}"
    factories.write_images(tmp_path / "frames", factories.moving_square_frames(3))
    assert _drop(window, tmp_path / "frames")
    assert studio.engine.source_name == f"folder:{tmp_path / 'frames'}"
    extra = factories.brightness_model(tmp_path / "dropped.onnx", layout="NHWC")
    assert _drop(window, extra)
    assert [m.name for m in studio.engine.models] == ["bright", "dropped"]
    assert "dropped" in window.model_picker.checked()


def test_bad_drops_are_reported_and_the_window_keeps_running(qtbot, studio, still_folder, tmp_path):
    window = studio.window
    assert studio.open(still_folder, ["bright"])
    notes = tmp_path / "notes.txt"
    notes.write_text("not a video")
    assert _drop(window, notes)
    assert "cannot use notes.txt" in window.problem_label.text()
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x00not a model at all" * 10)
    window.clear_problem()
    assert _drop(window, broken)
    assert "broken.onnx" in window.problem_label.text()
    assert [m.name for m in studio.engine.models] == ["bright"] and studio.engine.source_name == still_folder
    _new_pictures(qtbot, studio.engine, 2)  # still running
