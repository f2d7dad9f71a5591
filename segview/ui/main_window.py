"""The studio window: binds the controls, the views and the plots to a StudioEngine.

GUI thread only. Nothing here runs a model or reads a device: the engine's
threads do, and the window only displays what they produced.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QLabel, QWidget

from segview.inference.registry import DEFAULT_MODEL, ModelRegistry
from segview.metrics.hub import MetricSeries
from segview.render.overlay import OverlayMode
from segview.sources.discovery import available_sources
from segview.ui.controls import CompareControls, ModelPicker, OverlayControls, SourcePicker
from segview.ui.demo_actions import DemoActions
from segview.ui.eliding_label import ElidingLabel
from segview.ui.engine import MAX_VIEWS, RenderedFrame, StudioEngine
from segview.ui.event_loop_probe import EventLoopProbe
from segview.ui.main_window_actions import build_actions
from segview.ui.main_window_layout import arrange_views, controls_column, fitted_size, side_by_side, video_grid, videos_over_plots
from segview.ui.main_window_tools import StudioTools
from segview.ui.palette import ModelPalette, css
from segview.ui.plots import PlotsPanel
from segview.ui.settings_store import StudioPreferences, save_preferences
from segview.ui.user_action import reports_problems
from segview.ui.video_view import VideoView, tile_caption

# The plotted series change once a second (per-second buckets). pyqtgraph draws in Python, holding the GIL
# the inference workers need between their C calls: redrawing less often is measurably faster (studio FPS).
PLOT_REFRESH_MS = 1500
# About 30 pictures a second: smooth to the eye, cheap for the GUI thread.
DISPLAY_INTERVAL_MS = 33
CAPTION_INTERVAL_S = 0.25
PLOTS_MIN_HEIGHT_PX = 330

__all__ = ["StudioWindow", "default_models", "default_source", "fitted_size"]


class StudioWindow(StudioTools):
    # The toolbar's actions and the demo actions, made by main_window_actions.build_actions.
    play_action: QAction
    record_action: QAction
    open_model_action: QAction
    open_video_action: QAction
    sessions_action: QAction
    distill_action: QAction
    compress_action: QAction
    profile_action: QAction
    demo: DemoActions

    def __init__(self, engine: StudioEngine, *, system_series=None, persist: bool = True) -> None:
        super().__init__()
        self.engine = engine
        self.registry: ModelRegistry = engine.registry
        self.persist = persist
        self._system_series: Callable[[], dict[str, MetricSeries]] = system_series or (lambda: {})
        self.setWindowTitle("segview studio")
        self.resize(*fitted_size(self.screen().availableGeometry().size().toTuple()))
        self.palette_of_models = ModelPalette()  # one colour per model: tiles, legends, plots

        self.source_picker = SourcePicker()
        self.model_picker = ModelPicker(MAX_VIEWS)
        self.overlay_controls = OverlayControls()
        self.compare_controls = CompareControls()
        side = controls_column((self.source_picker, self.model_picker, self.overlay_controls, self.compare_controls), self.model_picker.list)

        self.views = [VideoView() for _ in range(MAX_VIEWS)]
        self.comparison_view = VideoView()
        self.comparison_view.placeholder = "Pick two views to compare"
        self.grid_host = QWidget()
        self.grid = video_grid(self.grid_host)

        self.plots = PlotsPanel(engine.live, self.palette_of_models)
        self.plots.setMinimumHeight(PLOTS_MIN_HEIGHT_PX)
        self.splitter = videos_over_plots(self.grid_host, self.plots)
        self.setCentralWidget(side_by_side(side, self.splitter))

        # A long message ends in "…" in the status bar (its tooltip holds all of it) rather than widening the window.
        self.problem_label = ElidingLabel("")
        self.problem_label.setObjectName("problemLabel")
        self.problem_label.setStyleSheet("color: #b00020; font-weight: bold;")
        self.stats_label = QLabel("")
        self.statusBar().addWidget(self.problem_label, 1)
        self.statusBar().addPermanentWidget(self.stats_label)

        build_actions(self)
        self._connect()
        self._layout_views(0)

        self.lag_probe = EventLoopProbe(self)
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
        for view, picture in zip(self.views, frame.views, strict=False):
            view.set_picture(picture.image, picture.screen)
            if numbers_due or view.title != picture.model:
                live = self.engine.live
                fps, latency = live.current(picture.model)
                view.set_accent(self.palette_of_models.colour(picture.model))
                view.set_caption(picture.model, tile_caption(fps, live.current_stage_ms(picture.model, "inference_ms"), latency))
            if len(picture.classes) > 2:
                view.legend = [(name, (int(c[0]), int(c[1]), int(c[2]))) for name, c in zip(picture.classes, picture.colours, strict=False)]
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

    def _chosen_file(self, title: str, filters: str) -> str:
        """The file picked in an open dialog; "" when the user cancels."""
        path, _ = QFileDialog.getOpenFileName(self, title, "", filters)
        return path

    @reports_problems("Opening the model")
    def _on_open_model(self) -> None:
        if path := self._chosen_file("Open ONNX model", "ONNX models (*.onnx);;All files (*)"):
            self.open_model_file(Path(path))

    @reports_problems("Opening the video")
    def _on_open_video(self) -> None:
        if path := self._chosen_file("Open video", "Videos (*.mp4 *.mkv *.avi *.mov *.webm);;All files (*)"):
            self.choose_source(f"file:{path}")

    @reports_problems("Opening the image folder")
    def _on_open_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open image folder")
        if path:
            self.choose_source(f"folder:{path}")

    @reports_problems("Choosing the background image")
    def _on_background_image(self) -> None:
        if path := self._chosen_file("Background image", "Images (*.png *.jpg *.jpeg *.bmp *.webp)"):
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
            f"<span style='color:{css(self.palette_of_models.colour(name))}'>&#9632;</span>&nbsp;{html.escape(name)}: {self.engine.live.current(name)[0]:.0f} FPS"
            for name in models
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
        arrange_views(self.grid, self.grid_host, self.views, self.comparison_view, count, comparing=self.engine.compare_pair is not None)

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
