"""VideoView: pictures land where they should, scaled or not, and leave Qt's pixmap cache alone."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QPixmap, QPixmapCache

from segview.ui.video_view import NATIVE_SIZE_SLACK, VideoView, screen_image, shown_size


def _picture(w=160, h=120, seed=0):
    rng = np.random.default_rng(seed)
    image = np.full((h, w, 3), (0, 0, 200), np.uint8)
    image[10:30, 20:40] = (255, 0, 0)
    image[-5:, -5:] = rng.integers(0, 255, (5, 5, 3), dtype=np.uint8)
    return image


@pytest.fixture
def view(qtbot):
    v = VideoView()
    qtbot.addWidget(v)
    v.resize(300, 200)
    v.show()
    qtbot.waitExposed(v)
    return v


def _shown(qtbot, view):
    """Wait until the view shows what it was last handed: its screen up with a picture, down without."""
    qtbot.waitUntil(lambda: view._screen.isVisible() == (view.picture() is not None))


def _rgb(qimage, x, y):
    colour = qimage.pixelColor(x, y)
    return colour.red(), colour.green(), colour.blue()


def test_shown_size_letterboxes_and_keeps_near_native_pictures_unscaled():
    assert shown_size((160, 120), (320, 200)) == (266, 200)  # height-bound: scaled up
    assert shown_size((640, 480), (617, 463)) == (617, 462)  # a little too big: scaled down
    assert shown_size((160, 120), (int(160 * NATIVE_SIZE_SLACK), 1000)) == (160, 120)  # nearly fits: left alone


def test_picture_is_drawn_centred_at_its_shown_size(qtbot, view):
    image = _picture()
    view.set_picture(image)
    _shown(qtbot, view)
    grab = view.grab().toImage()
    w, h = shown_size((160, 120), view.screen_size)
    left, top = (300 - w) // 2, (200 - h) // 2
    assert _rgb(grab, 2, 2) == (24, 26, 30)  # letterbox
    assert _rgb(grab, left + w // 2, top + h // 2) == (200, 0, 0)  # the picture's red body (BGR in)
    sx, sy = w / 160, h / 120
    assert _rgb(grab, left + int(30 * sx), top + int(20 * sy)) == (0, 0, 255)  # the blue patch, scaled
    assert view.picture() is image


def test_prepared_image_is_used_only_when_made_for_this_size(qtbot, view):
    image = _picture()
    right = screen_image(image, view.screen_size)
    wrong = screen_image(image, (80, 60))
    for prepared in (right, wrong, None):
        view.set_picture(image, prepared)
        _shown(qtbot, view)
        grab = view.grab().toImage()
        w, h = shown_size((160, 120), view.screen_size)
        # Whatever was handed over, the picture fills its letterboxed place.
        assert _rgb(grab, (300 - w) // 2 + 1, (200 - h) // 2 + h // 2) == (200, 0, 0)
        assert _rgb(grab, (300 - w) // 2 - 2, 100) == (24, 26, 30)


def test_clearing_the_picture_shows_the_placeholder(qtbot, view):
    view.set_picture(_picture())
    view.placeholder = "Tick a model to start"
    view.set_picture(None)
    _shown(qtbot, view)
    grab = view.grab().toImage()
    assert view.picture() is None
    assert _rgb(grab, 150, 40) == (24, 26, 30)  # no picture left behind
    assert view._backdrop.text() == "Tick a model to start"


def test_new_pictures_do_not_push_other_things_out_of_the_pixmap_cache(qtbot, view):
    """Qt 6's QLabel.setPixmap enters every new pixmap in QPixmapCache; at 30 pictures a second that
    evicted the plots' cached axes, which were then redrawn in Python many times a second."""
    view.resize(700, 520)
    qtbot.waitUntil(lambda: view.screen_size == (700, 520))  # the view has taken its new size
    key = QPixmapCache.insert(QPixmap(100, 100))
    for i in range(40):  # 40 x 1.2 MB: four times the cache's default 10 MB
        view.set_picture(_picture(640, 480, seed=i))
        view.repaint()
    assert QPixmapCache.find(key) is not None
