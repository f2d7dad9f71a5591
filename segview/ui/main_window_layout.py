"""How the studio window arranges its widgets: the controls column, the videos over the plots, the video grid.

Functions of the widgets they are given; the window owns the widgets.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractScrollArea, QFrame, QGridLayout, QHBoxLayout, QListWidget, QScrollArea, QSplitter, QVBoxLayout, QWidget

from segview.ui.video_view import VideoView

SIDE_WIDTH_PX = 290
MODEL_LIST_MAX_HEIGHT_PX = 220
# The window opens at this size, or smaller to fit the screen (1280x720 included).
PREFERRED_SIZE = (1400, 860)


def fitted_size(screen: tuple[int, int], preferred: tuple[int, int] = PREFERRED_SIZE) -> tuple[int, int]:
    return min(preferred[0], screen[0]), min(preferred[1], screen[1])


def controls_column(boxes: Sequence[QWidget], model_list: QListWidget) -> QScrollArea:
    """The control boxes stacked at the window's left, scrolling when the window is shorter than they are."""
    side = QWidget()
    side_layout = QVBoxLayout(side)
    for box in boxes:
        side_layout.addWidget(box)
    side_layout.addStretch(1)
    side.setFixedWidth(SIDE_WIDTH_PX)
    # The model list as tall as its models (up to a limit), not Qt's default 192 px: at 720 px
    # the controls below it then fit without scrolling.
    model_list.setSizeAdjustPolicy(QAbstractScrollArea.SizeAdjustPolicy.AdjustToContents)
    model_list.setMaximumHeight(MODEL_LIST_MAX_HEIGHT_PX)
    # The controls scroll when the window is shorter than they are (1280x720), instead of
    # making the window taller than the screen.
    side_scroll = QScrollArea()
    side_scroll.setWidget(side)
    side_scroll.setFrameShape(QFrame.Shape.NoFrame)
    side_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    side_scroll.setFixedWidth(SIDE_WIDTH_PX + side_scroll.verticalScrollBar().sizeHint().width())
    return side_scroll


def videos_over_plots(videos: QWidget, plots: QWidget) -> QSplitter:
    """Videos on top, the profiling dashboard beneath: both stay in view without scrolling.

    Neither collapses; the videos give way first (their minimum is small), the plots keep theirs.
    """
    main = QSplitter(Qt.Orientation.Vertical)
    main.addWidget(videos)
    main.addWidget(plots)
    main.setChildrenCollapsible(False)
    main.setStretchFactor(0, 3)
    main.setStretchFactor(1, 2)
    main.setSizes([520, 360])
    return main


def side_by_side(side: QWidget, main: QWidget) -> QWidget:
    central = QWidget()
    central_layout = QHBoxLayout(central)
    central_layout.setContentsMargins(4, 4, 4, 4)
    central_layout.addWidget(side)
    central_layout.addWidget(main, 1)
    return central


def video_grid(host: QWidget) -> QGridLayout:
    grid = QGridLayout(host)
    grid.setSpacing(4)
    grid.setContentsMargins(0, 0, 0, 0)
    return grid


def arrange_views(grid: QGridLayout, host: QWidget, views: Sequence[VideoView], comparison: VideoView, count: int, *, comparing: bool) -> None:
    """One view fills the area; two or three sit in a row (with the comparison); four make a 2x2 grid."""
    for view in [*views, comparison]:
        grid.removeWidget(view)
        view.setParent(None)
    shown = max(1, count)
    cells = shown + (1 if count >= 2 else 0)
    columns = cells if cells <= 3 else 3
    for i in range(shown):
        grid.addWidget(views[i], i // columns, i % columns)
        views[i].setParent(host)
        views[i].show()
        if i >= count:
            views[i].set_picture(None)
            views[i].set_caption("")
            views[i].set_accent(None)
            views[i].placeholder = "Tick a model to start"
    if count >= 2:
        grid.addWidget(comparison, shown // columns, shown % columns)
        comparison.setParent(host)
        comparison.setVisible(comparing)
