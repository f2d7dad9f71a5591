"""The studio window's toolbar and keyboard shortcuts: each action calls one of the window's slots."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QToolBar

from segview.render.overlay import OverlayMode
from segview.ui.actions import make_action
from segview.ui.demo_actions import DemoActions

if TYPE_CHECKING:
    from segview.ui.main_window import StudioWindow


def build_actions(window: StudioWindow) -> None:
    """Add the toolbar (its actions become ``window.play_action`` and so on) and the window's shortcuts."""
    bar = QToolBar("Main")
    bar.setMovable(False)
    window.addToolBar(bar)
    window.play_action = make_action(window, "Play", window._on_play_clicked, shortcut=Qt.Key.Key_Space, tip="Play / pause (Space)")
    window.record_action = make_action(
        window, "Record", toggled=window._on_record_toggled, shortcut="Ctrl+R", tip="Start / stop recording a profiling session (Ctrl+R)"
    )
    window.open_model_action = make_action(window, "Open model…", window._on_open_model, shortcut=QKeySequence.StandardKey.Open)
    window.open_video_action = make_action(window, "Open video…", window._on_open_video, shortcut="Ctrl+Shift+O")
    window.sessions_action = make_action(
        window, "Sessions…", window._on_open_session, tip="Browse recorded sessions: summaries with plots, report export, comparing two"
    )
    window.distill_action = make_action(
        window, "Distill…", window.open_distill, tip="Train a fast student model from a teacher on your frames (needs segview[distill])"
    )
    window.compress_action = make_action(
        window,
        "Compress…",
        window.open_compress,
        tip="Compress a model (FP16, INT8, pruning, weight sharing) in the background and compare it with the original",
    )
    window.profile_action = make_action(
        window, "Profile…", window.open_profile, tip="Where a model's time goes, operator by operator, and the diff of two models (the studio pauses meanwhile)"
    )
    for action in (
        window.play_action,
        window.record_action,
        window.open_model_action,
        window.open_video_action,
        window.sessions_action,
        window.distill_action,
        window.compress_action,
        window.profile_action,
    ):
        bar.addAction(action)
    # Screenshot, Record video, Full screen, drag and drop (segview.ui.demo_actions).
    window.demo = DemoActions(window, bar)
    window.addAction(make_action(window, "Quit", window.close, shortcut=QKeySequence.StandardKey.Quit))
    for i, mode in enumerate(OverlayMode, start=1):
        window.addAction(make_action(window, mode.label, lambda _=False, m=mode: window.overlay_controls.set_mode(m), shortcut=str(i)))
