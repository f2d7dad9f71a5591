"""The studio window: binds the controls, the views and the plots to a StudioEngine.

GUI thread only. Nothing here runs a model or reads a device: the engine's
threads do, and the window only displays what they produced.
"""

from __future__ import annotations

import collections
import html
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QElapsedTimer, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QScrollArea,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from segview.inference.registry import DEFAULT_MODEL, ModelRegistry
from segview.render.overlay import OverlayMode
from segview.sources.discovery import available_sources
from segview.ui.controls import CompareControls, ModelPicker, OverlayControls, SourcePicker
from segview.ui.demo_actions import DemoActions
from segview.ui.eliding_label import ElidingLabel
from segview.ui.engine import MAX_VIEWS, RenderedFrame, StudioEngine
from segview.ui.palette import ModelPalette, css
from segview.ui.plots import PlotsPanel
from segview.ui.recording_control import DEFAULT_SESSIONS_DIR
from segview.ui.sessions_dialog import open_session
from segview.ui.settings_store import StudioPreferences, save_preferences
from segview.ui.user_action import reports_problems
from segview.ui.video_view import VideoView, tile_caption

# The plotted series change once a second (per-second buckets). pyqtgraph draws in Python, holding the GIL
# the inference workers need between their C calls: redrawing less often is measurably faster (studio FPS).
PLOT_REFRESH_MS = 1500
# About 30 pictures a second: smooth to the eye, cheap for the GUI thread.
DISPLAY_INTERVAL_MS = 33
CAPTION_INTERVAL_S = 0.25
LAG_PROBE_MS = 20
SIDE_WIDTH_PX = 290
MODEL_LIST_MAX_HEIGHT_PX = 220
PLOTS_MIN_HEIGHT_PX = 330
# The window opens at this size, or smaller to fit the screen (1280x720 included).
PREFERRED_SIZE = (1400, 860)


def fitted_size(screen: tuple[int, int], preferred: tuple[int, int] = PREFERRED_SIZE) -> tuple[int, int]:
    return min(preferred[0], screen[0]), min(preferred[1], screen[1])


class EventLoopProbe:
    """Measures how late a 20 ms timer fires: the delay a click or repaint would suffer."""

    def __init__(self, window_s: float = 60.0) -> None:
        self.delays_ms: collections.deque[tuple[float, float]] = collections.deque()
        self.window_s = window_s
        self._clock = QElapsedTimer()
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._on_tick)

    def start(self) -> None:
        self._clock.start()
        self._timer.start(LAG_PROBE_MS)

    def _on_tick(self) -> None:
        elapsed = self._clock.restart()
        now = time.perf_counter()
        self.delays_ms.append((now, max(0.0, elapsed - LAG_PROBE_MS)))
        while self.delays_ms and self.delays_ms[0][0] < now - self.window_s:
            self.delays_ms.popleft()

    def reset(self) -> None:
        self.delays_ms.clear()

    def series(self) -> tuple[np.ndarray, np.ndarray]:
        now = time.perf_counter()
        return np.array([t - now for t, _ in self.delays_ms]), np.array([d for _, d in self.delays_ms])

    def all_delays(self) -> np.ndarray:
        return np.array([d for _, d in self.delays_ms])


class StudioWindow(QMainWindow):
    def __init__(self, engine: StudioEngine, *, system_series=None, persist: bool = True) -> None:
        super().__init__()
        self.engine = engine
        self.registry: ModelRegistry = engine.registry
        self.persist = persist
        self._system_series = system_series or (lambda: {})
        self.setWindowTitle("segview studio")
        self.resize(*fitted_size(self.screen().availableGeometry().size().toTuple()))
        self.palette_of_models = ModelPalette()  # one colour per model: tiles, legends, plots

        self.source_picker = SourcePicker()
        self.model_picker = ModelPicker(MAX_VIEWS)
        self.overlay_controls = OverlayControls()
        self.compare_controls = CompareControls()
        side = QWidget()
        side_layout = QVBoxLayout(side)
        for box in (self.source_picker, self.model_picker, self.overlay_controls, self.compare_controls):
            side_layout.addWidget(box)
        side_layout.addStretch(1)
        side.setFixedWidth(SIDE_WIDTH_PX)
        # The model list as tall as its models (up to a limit), not Qt's default 192 px: at 720 px
        # the controls below it then fit without scrolling.
        self.model_picker.list.setSizeAdjustPolicy(QAbstractScrollArea.SizeAdjustPolicy.AdjustToContents)
        self.model_picker.list.setMaximumHeight(MODEL_LIST_MAX_HEIGHT_PX)
        # The controls scroll when the window is shorter than they are (1280x720), instead of
        # making the window taller than the screen.
        side_scroll = QScrollArea()
        side_scroll.setWidget(side)
        side_scroll.setFrameShape(QFrame.Shape.NoFrame)
        side_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        side_scroll.setFixedWidth(SIDE_WIDTH_PX + side_scroll.verticalScrollBar().sizeHint().width())

        self.views = [VideoView() for _ in range(MAX_VIEWS)]
        self.comparison_view = VideoView()
        self.comparison_view.placeholder = "Pick two views to compare"
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setSpacing(4)
        self.grid.setContentsMargins(0, 0, 0, 0)

        self.plots = PlotsPanel(engine.live, self.palette_of_models)
        self.plots.setMinimumHeight(PLOTS_MIN_HEIGHT_PX)

        # Videos on top, the profiling dashboard beneath: both stay in view without scrolling.
        # Neither collapses; the videos give way first (their minimum is small), the plots keep theirs.
        main = QSplitter(Qt.Orientation.Vertical)
        main.addWidget(self.grid_host)
        main.addWidget(self.plots)
        main.setChildrenCollapsible(False)
        main.setStretchFactor(0, 3)
        main.setStretchFactor(1, 2)
        main.setSizes([520, 360])
        self.splitter = main
        central = QWidget()
        central_layout = QHBoxLayout(central)
        central_layout.setContentsMargins(4, 4, 4, 4)
        central_layout.addWidget(side_scroll)
        central_layout.addWidget(main, 1)
        self.setCentralWidget(central)

        # A long message ends in "…" in the status bar (its tooltip holds all of it) rather than widening the window.
        self.problem_label = ElidingLabel("")
        self.problem_label.setObjectName("problemLabel")
        self.problem_label.setStyleSheet("color: #b00020; font-weight: bold;")
        self.stats_label = QLabel("")
        self.statusBar().addWidget(self.problem_label, 1)
        self.statusBar().addPermanentWidget(self.stats_label)

        self._build_actions()
        self._connect()
        self._layout_views(0)

        self.lag_probe = EventLoopProbe()
        self.lag_probe.start()
        # Pictures are pulled at screen rate, not pushed per frame: at hundreds of frames a
        # second, painting each would take a core from the models.
        self._display_timer = QTimer(self)
        self._display_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._display_timer.timeout.connect(self._on_display_tick)
        self._display_timer.start(DISPLAY_INTERVAL_MS)
        self._captions_due = 0.0
        self._plot_timer = QTimer(self)
        self._plot_timer.timeout.connect(self._refresh_plots)
        self._plot_part = 0
        self._plot_timer.start(PLOT_REFRESH_MS // PlotsPanel.PARTS)
        self.background_image: np.ndarray | None = None
        self._source_problem_shown: str | None = None

    # -- construction ---------------------------------------------------------

    def _build_actions(self) -> None:
        bar = QToolBar("Main")
        bar.setMovable(False)
        self.addToolBar(bar)
        self.play_action = QAction("Play", self)
        self.play_action.setShortcut(QKeySequence(Qt.Key.Key_Space))
        self.play_action.setToolTip("Play / pause (Space)")
        self.play_action.triggered.connect(self._on_play_clicked)
        self.record_action = QAction("Record", self)
        self.record_action.setCheckable(True)
        self.record_action.setShortcut(QKeySequence("Ctrl+R"))
        self.record_action.setToolTip("Start / stop recording a profiling session (Ctrl+R)")
        self.record_action.toggled.connect(self._on_record_toggled)
        self.open_model_action = QAction("Open model…", self)
        self.open_model_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_model_action.triggered.connect(self._on_open_model)
        self.open_video_action = QAction("Open video…", self)
        self.open_video_action.setShortcut(QKeySequence("Ctrl+Shift+O"))
        self.open_video_action.triggered.connect(self._on_open_video)
        self.sessions_action = QAction("Sessions…", self)
        self.sessions_action.setToolTip("Browse recorded sessions: summaries with plots, report export, comparing two")
        self.sessions_action.triggered.connect(self._on_open_session)
        self.distill_action = QAction("Distill…", self)
        self.distill_action.setToolTip("Train a fast student model from a teacher on your frames (needs segview[distill])")
        self.distill_action.triggered.connect(self.open_distill)
        self.compress_action = QAction("Compress…", self)
        self.compress_action.setToolTip("Compress a model (FP16, INT8, pruning, weight sharing) in the background and compare it with the original")
        self.compress_action.triggered.connect(self.open_compress)
        self.profile_action = QAction("Profile…", self)
        self.profile_action.setToolTip("Where a model's time goes, operator by operator, and the diff of two models (the studio pauses meanwhile)")
        self.profile_action.triggered.connect(self.open_profile)
        quit_action = QAction("Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        for action in (self.play_action, self.record_action, self.open_model_action, self.open_video_action, self.sessions_action, self.distill_action, self.compress_action, self.profile_action):
            bar.addAction(action)
        # Screenshot, Record video, Full screen, drag and drop (segview.ui.demo_actions).
        self.demo = DemoActions(self, bar)
        self.addAction(quit_action)
        for i, mode in enumerate(OverlayMode, start=1):
            action = QAction(mode.label, self)
            action.setShortcut(QKeySequence(str(i)))
            action.triggered.connect(lambda _=False, m=mode: self.overlay_controls.set_mode(m))
            self.addAction(action)

    def _connect(self) -> None:
        e = self.engine
        e.problem_occurred.connect(self.show_problem)
        e.state_changed.connect(self._on_state_changed)
        self.source_picker.source_chosen.connect(self.choose_source)
        self.source_picker.open_video_requested.connect(self._on_open_video)
        self.source_picker.open_folder_requested.connect(self._on_open_folder)
        self.model_picker.selection_changed.connect(self.choose_models)
        self.model_picker.open_model_requested.connect(self._on_open_model)
        self.overlay_controls.mode_changed.connect(lambda m: self._update_overlay(mode=m))
        self.overlay_controls.opacity_changed.connect(lambda v: self._update_overlay(opacity=v))
        self.overlay_controls.smoothing_changed.connect(self.engine.set_smoothing)
        self.overlay_controls.threshold_changed.connect(self.engine.set_mask_threshold)
        self.overlay_controls.background_image_requested.connect(self._on_background_image)
        self.compare_controls.pair_changed.connect(self._on_pair_changed)

    # -- public actions (also used by tests and scripted runs) ----------------

    def refresh_sources(self) -> None:
        self.source_picker.set_sources(available_sources(), self.engine.source_name)

    def refresh_models(self) -> None:
        self.model_picker.set_models(self.registry.entries(), [e.name for e in self.engine.models])

    @reports_problems("Choosing the source")
    def choose_source(self, text: str) -> bool:
        try:
            self.engine.set_source(text)
        finally:
            self.refresh_sources()  # the picker shows what plays, after a refused choice too
        return True

    @reports_problems("Choosing the models")
    def choose_models(self, references: list[str]) -> bool:
        """Names or paths; paths are registered and then listed under their model names."""
        try:
            self.engine.set_models(references)
        except Exception:
            self.model_picker.set_checked([e.name for e in self.engine.models])  # the ticks show what runs
            raise
        names = [e.name for e in self.engine.models]
        self.palette_of_models.show(names)  # colours settled before tiles and plots ask for them
        self.refresh_models()
        self._layout_views(len(names))
        self.compare_controls.set_models(names, [e.tooltip for e in self.engine.models])
        return True

    @reports_problems("Opening the model")
    def open_model_file(self, path: Path) -> bool:
        """Register a model file and run it beside the others; a bad file is reported, nothing else changes."""
        entry = self.registry.add_file(path)
        self.refresh_models()
        names = [e.name for e in self.engine.models]
        if entry.name not in names:
            names = (names + [entry.name])[-MAX_VIEWS:]
        return self.choose_models(names)

    def show_problem(self, text: str) -> None:
        self.problem_label.setText(text)
        self.problem_label.setToolTip(text)

    def clear_problem(self) -> None:
        self.problem_label.setText("")

    def preferences(self) -> StudioPreferences:
        o = self.engine.overlay
        return StudioPreferences(
            source=self.engine.source_name,
            models=tuple(e.name for e in self.engine.models),
            overlay_mode=o.mode,
            opacity=o.opacity,
            smoothing=self.engine.smoothing,
            mask_threshold=self.engine.mask_threshold,
        )

    def apply_preferences(self, prefs: StudioPreferences) -> None:
        self.overlay_controls.set_mode(prefs.overlay_mode)
        self.overlay_controls.opacity.setValue(int(round(prefs.opacity * 100)))
        self.overlay_controls.smoothing.setValue(int(round(prefs.smoothing * 100)))
        self.overlay_controls.threshold.setValue(prefs.mask_threshold)

    # -- slots ------------------------------------------------------------------

    def _on_display_tick(self) -> None:
        # The sizes the next picture is prepared at (plain tuples, kept by the views on resize).
        self.engine.screen_sizes = tuple(view.screen_size for view in (*self.views, self.comparison_view))
        frame = self.engine.take_new_picture()
        if frame is not None:
            self._show(frame)

    def _show(self, frame: RenderedFrame) -> None:
        # Numbers in captions change every frame but cannot be read at 30 Hz; relaying out
        # rich text costs 0.5 ms each time, so they follow at CAPTION_INTERVAL_S (a new
        # model or pair is named at once).
        now = time.monotonic()
        numbers_due = now >= self._captions_due
        if numbers_due:
            self._captions_due = now + CAPTION_INTERVAL_S
        for view, picture in zip(self.views, frame.views):
            view.set_picture(picture.image, picture.screen)
            if numbers_due or view.title != picture.model:
                live = self.engine.live
                fps, latency = live.current(picture.model)
                view.set_accent(self.palette_of_models.colour(picture.model))
                view.set_caption(picture.model, tile_caption(fps, live.current_stage_ms(picture.model, "inference_ms"), latency))
            if len(picture.classes) > 2:
                view.legend = [(name, tuple(int(c) for c in colour)) for name, colour in zip(picture.classes, picture.colours)]
            else:
                view.legend = []
        if frame.comparison is not None and frame.pair is not None:
            self.comparison_view.set_picture(frame.comparison, frame.comparison_screen)
            title = f"{frame.pair[0]} vs {frame.pair[1]}"
            if numbers_due or self.comparison_view.title != title:
                self.comparison_view.set_caption(title, f"IoU {frame.iou:.3f}  ·  orange: only A  ·  blue: only B")
                self.compare_controls.iou.setText(f"IoU {frame.iou:.3f}")

    def _on_state_changed(self) -> None:
        running = self.engine.running
        self.play_action.setText("Pause" if running else "Play")
        if running and not self.engine.problem:
            self.clear_problem()

    @reports_problems("Play / pause")
    def _on_play_clicked(self) -> None:
        self.engine.toggle()

    def _on_record_toggled(self, on: bool) -> None:
        # Recording is wired in by the app (see segview.ui.recording_control).
        pass

    @reports_problems("Opening the model")
    def _on_open_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open ONNX model", "", "ONNX models (*.onnx);;All files (*)")
        if path:
            self.open_model_file(Path(path))

    @reports_problems("Opening the video")
    def _on_open_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open video", "", "Videos (*.mp4 *.mkv *.avi *.mov *.webm);;All files (*)")
        if path:
            self.choose_source(f"file:{path}")

    @reports_problems("Opening the image folder")
    def _on_open_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open image folder")
        if path:
            self.choose_source(f"folder:{path}")

    @reports_problems("Opening Distill", failed=None)
    def open_distill(self):
        """The distillation page (imported on first use: it pulls in the distill package)."""
        from segview.ui.distill_page import DistillDialog

        if getattr(self, "_distill_dialog", None) is None:
            self._distill_dialog = DistillDialog(self.registry, self)
            self._distill_dialog.page.student_registered.connect(self.open_model_file)
            running = self._running_model()
            if running:
                self._distill_dialog.page.teacher_combo.setCurrentText(running)
        self._distill_dialog.page.refresh_teachers()
        self._distill_dialog.show()
        return self._distill_dialog

    def _running_model(self) -> str | None:
        """The first model the studio runs: what the Distill and Compress pages start from
        (rather than whichever name sorts first, often a variant)."""
        return self.engine.models[0].name if self.engine.models else None

    @reports_problems("Opening Compress", failed=None)
    def open_compress(self):
        """The compression wizard (imported on first use); its results join the model picker as they finish."""
        from segview.ui.compress_wizard import CompressWizard

        if getattr(self, "_compress_wizard", None) is None:
            self._compress_wizard = CompressWizard(self.registry, engine=self.engine, parent=self)
            self._compress_wizard.result_registered.connect(lambda _name: self.refresh_models())
            self._compress_wizard.compare_requested.connect(self.choose_models)
            running = self._running_model()
            if running:
                self._compress_wizard.steps_page.set_model(running)
        elif not self._compress_wizard.isVisible():
            self._compress_wizard.reopen()  # one wizard per window: the fields of its last use are kept
        self._compress_wizard.show()
        return self._compress_wizard

    @reports_problems("Opening Profile", failed=None)
    def open_profile(self):
        """The Profile view (imported on first use); one per window, its last profile kept."""
        from segview.ui.profile_view import ProfileView

        if getattr(self, "_profile_view", None) is None:
            self._profile_view = ProfileView(self, parent=self)
        self._profile_view.refresh_models()
        self._profile_view.show()
        self._profile_view.raise_()
        return self._profile_view

    @reports_problems("Opening Sessions", failed=None)
    def _on_open_session(self):
        """The Sessions browser over the folder recordings go to (imported on first use)."""
        from segview.ui.session_browser import SessionBrowser

        if getattr(self, "_session_browser", None) is None:
            self._session_browser = SessionBrowser(DEFAULT_SESSIONS_DIR, self)
        else:  # one browser per window: reopened, it lists its folder again (a recording may have been added)
            self._session_browser.show_folder(self._session_browser.root)
        self._session_browser.show()
        self._session_browser.raise_()
        return self._session_browser

    @reports_problems("Opening the session", failed=None)
    def show_session(self, folder: Path):
        """Open a recorded session in a dialog; a bad folder is reported in the status bar."""
        dialog = open_session(folder, self)
        dialog.show()
        return dialog

    @reports_problems("Choosing the background image")
    def _on_background_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Background image", "", "Images (*.png *.jpg *.jpeg *.bmp *.webp)")
        if path:
            self.set_background_image(Path(path))

    @reports_problems("Choosing the background image")
    def set_background_image(self, path: Path) -> bool:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            self.show_problem(f"cannot read background image {path.name}")
            return False
        self.background_image = image
        self._update_overlay(background_image=image, mode=OverlayMode.REPLACE)
        self.overlay_controls.set_mode(OverlayMode.REPLACE)
        return True

    @reports_problems("Choosing the views to compare")
    def _on_pair_changed(self, pair) -> None:
        self.engine.set_compare_pair(pair)
        self.comparison_view.setVisible(pair is not None)
        names = [e.name for e in self.engine.models]
        self.plots.set_pair((names[pair[0]], names[pair[1]]) if pair is not None and max(pair) < len(names) else None)
        if pair is None:
            self.compare_controls.iou.setText("IoU –")
            self.comparison_view.set_picture(None)

    @reports_problems("Changing the overlay")
    def _update_overlay(self, **changes) -> None:
        self.engine.set_overlay(replace(self.engine.overlay, **changes))

    def _refresh_plots(self) -> None:
        models = [e.name for e in self.engine.models]
        self.plots.refresh(models, self._system_series(), self.lag_probe.series(), part=self._plot_part)
        self._plot_part = (self._plot_part + 1) % PlotsPanel.PARTS
        stats = "&nbsp;&nbsp; ".join(
            f"<span style='color:{css(self.palette_of_models.colour(name))}'>&#9632;</span>&nbsp;{html.escape(name)}: {self.engine.live.current(name)[0]:.0f} FPS" for name in models
        )
        if stats != self.stats_label.text():
            self.stats_label.setText(stats)
        self._show_source_problem()

    def _show_source_problem(self) -> None:
        """A live source that is retrying (a phone unplugged) says why; the message goes once it recovers."""
        problem = self.engine.source_problem()
        if problem and problem != self._source_problem_shown:
            self.show_problem(problem)
        elif not problem and self._source_problem_shown and self.problem_label.text() == self._source_problem_shown:
            self.clear_problem()
        self._source_problem_shown = problem

    # -- layout -----------------------------------------------------------------

    def _layout_views(self, count: int) -> None:
        """One view fills the area; two or three sit in a row (with the comparison); four make a 2x2 grid."""
        for view in self.views + [self.comparison_view]:
            self.grid.removeWidget(view)
            view.setParent(None)
        shown = max(1, count)
        cells = shown + (1 if count >= 2 else 0)
        columns = cells if cells <= 3 else 3
        for i in range(shown):
            self.grid.addWidget(self.views[i], i // columns, i % columns)
            self.views[i].setParent(self.grid_host)
            self.views[i].show()
            if i >= count:
                self.views[i].set_picture(None)
                self.views[i].set_caption("")
                self.views[i].set_accent(None)
                self.views[i].placeholder = "Tick a model to start"
        if count >= 2:
            self.grid.addWidget(self.comparison_view, shown // columns, shown % columns)
            self.comparison_view.setParent(self.grid_host)
            self.comparison_view.setVisible(self.engine.compare_pair is not None)

    # -- lifetime -----------------------------------------------------------------

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.persist:
            save_preferences(self.preferences())
        self._plot_timer.stop()
        self._display_timer.stop()
        self.demo.shutdown()  # a video being recorded is flushed and renamed first
        self.engine.shutdown()
        super().closeEvent(event)


def default_models(registry: ModelRegistry, remembered: tuple[str, ...]) -> list[str]:
    names = [m for m in remembered if m in registry.names()]
    if names:
        return names[:MAX_VIEWS]
    return [DEFAULT_MODEL] if DEFAULT_MODEL in registry.names() else registry.names()[:1]


def default_source(remembered: str | None) -> str:
    sources = available_sources()
    if remembered:
        return remembered
    cameras = [spec for _, spec in sources if spec.startswith("camera:")]
    return cameras[0] if cameras else "demo"


