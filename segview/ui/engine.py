"""StudioEngine: the studio's SessionControl, adapted to Qt signals and screen-ready pictures.

Everything the studio decides (source and model choice, the pipeline's
lifecycle, compositing) lives in the Qt-free
:class:`segview.pipeline.session_control.SessionControl`; this class only turns
its hooks into signals for the window and prepares each picture as a QImage
for its view on the consumer thread (see ``video_view.screen_image``).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from segview.inference.registry import ModelRegistry
from segview.pipeline.frame_pictures import MAX_VIEWS, RenderedFrame, ViewPicture
from segview.pipeline.pipeline import PipelineStats
from segview.pipeline.session_control import SessionControl
from segview.ui.video_view import screen_image

__all__ = ["MAX_VIEWS", "RenderedFrame", "StudioEngine", "ViewPicture"]


class StudioEngine(SessionControl, QObject):
    problem_occurred = Signal(str)
    state_changed = Signal()
    # Emitted from the consumer thread; Qt queues it to the GUI thread.
    _pipeline_finished = Signal(object)

    def __init__(self, registry: ModelRegistry, *, workers: int | None = None, provider: str = "cpu") -> None:
        # SessionControl.__init__ calls QObject.__init__ (the next class in the MRO) through super().
        super().__init__(registry, workers=workers, provider=provider)
        self._pipeline_finished.connect(self.pipeline_finished)

    def _notify_state_changed(self) -> None:
        self.state_changed.emit()

    def _notify_problem(self, problem: str) -> None:
        self.problem_occurred.emit(problem)

    def _hand_over_finished(self, stats: PipelineStats) -> None:
        self._pipeline_finished.emit(stats)

    def _prepare_screen(self, picture: np.ndarray, size: tuple[int, int]) -> QImage:
        return screen_image(picture, size)
