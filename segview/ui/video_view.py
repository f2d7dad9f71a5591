"""VideoView: one composed picture with its caption and, for multi-class models, a colour legend.

Everything here is painted by Qt's own C++ widgets (QLabel), never by a Python
paintEvent: PySide6 keeps the GIL through QPainter calls, and a Python paint
30 times a second held it for over a third of the time, stalling the inference
workers between their C calls (measured with py-spy --gil).
"""

from __future__ import annotations

import html

import cv2
import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPalette, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


def bgr_to_qimage(image: np.ndarray) -> QImage:
    """A QImage holding its own copy of the pixels, in Qt's native 32-bit format.

    Building a QImage over a numpy buffer (QImage(data, w, h, ...)) corrupts
    reference counts in PySide6 and crashes the interpreter at exit, so the
    pixels are written into memory the QImage owns. OpenCV writes them as BGRA
    (Format_RGB32's byte order) without the GIL; a 24-bit QImage would instead be
    converted by QPixmap.fromImage with the GIL held (0.34 ms at 640x480).
    """
    h, w = image.shape[:2]
    qimage = QImage(w, h, QImage.Format.Format_RGB32)
    stride = qimage.bytesPerLine()
    target = np.frombuffer(qimage.bits(), np.uint8, count=stride * h).reshape(h, stride // 4, 4)[:, :w]
    cv2.cvtColor(image, cv2.COLOR_BGR2BGRA, dst=target)
    return qimage


# A picture up to this much smaller than its view is shown at its own size, not scaled up.
NATIVE_SIZE_SLACK = 1.1


def shown_size(picture: tuple[int, int], view: tuple[int, int]) -> tuple[int, int]:
    """The size a ``picture`` (w, h) is shown at in a ``view`` (w, h): fitted, letterboxed."""
    (iw, ih), (vw, vh) = picture, view
    scale = min(vw / iw, vh / ih)
    if 1.0 <= scale <= NATIVE_SIZE_SLACK:
        # Nearly fits at 1:1: shown unscaled (crisper, and a resize pass saved) with slightly wider margins.
        return iw, ih
    return max(1, int(iw * scale)), max(1, int(ih * scale))


def screen_image(image: np.ndarray, view: tuple[int, int]) -> QImage:
    """The picture scaled for a view of size ``view`` and converted for the screen.

    Safe on any thread (QImage, unlike QPixmap, is not tied to the GUI thread): the
    studio prepares pictures on the pipeline's consumer thread, so the GUI thread
    only hands a finished image to its view. That moves about 1 ms of CPU a picture
    (measured with the models running) off the window's thread; the total is the same.
    """
    w, h = shown_size((image.shape[1], image.shape[0]), view)
    if (w, h) != (image.shape[1], image.shape[0]):
        # Linear even when shrinking: INTER_AREA looks marginally better and costs five times more.
        image = cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)
    return bgr_to_qimage(image)


_SCREEN_RGB = (24, 26, 30)
_CAPTION_STYLE = "background: rgba(0, 0, 0, 150); color: white; border-radius: 6px; padding: 5px 10px;"
ACCENT_PX = 4  # the model's colour along the tile's top edge and the caption's left edge


def tile_caption(fps: float, inference_ms: float, end_to_end_ms: float) -> str:
    """ "29 FPS · inference 9.1 ms · e2e 14.0 ms": which latency each figure is, not a bare "14.0 ms"."""
    if not fps:
        return ""
    parts = [f"{fps:.0f} FPS"]
    if inference_ms == inference_ms:  # not NaN
        parts.append(f"inference {inference_ms:.1f} ms")
    parts.append(f"e2e {end_to_end_ms:.1f} ms")
    return " · ".join(parts)


class VideoView(QWidget):
    """Shows a picture scaled to fit (letterboxed), a caption, and a colour legend when there are classes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 100)  # small, so the videos give way before the plots are squeezed
        self.setAutoFillBackground(True)
        self.setStyleSheet("VideoView {{ background: rgb({}, {}, {}); }}".format(*_SCREEN_RGB))
        self._image: np.ndarray | None = None
        # The letterbox and the placeholder text ("No video") fill the view behind the screen.
        self._backdrop = QLabel(self)
        self._backdrop.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._backdrop.setWordWrap(True)  # a small tile wraps its placeholder instead of cutting it
        self._backdrop.setStyleSheet("background: rgb({}, {}, {}); color: rgb(140, 145, 155);".format(*_SCREEN_RGB))
        # The picture is the screen's background brush, and the screen is exactly the picture's
        # size. Not a QLabel pixmap: Qt 6's QLabel keeps each new pixmap in a QIcon that enters
        # it into the global QPixmapCache, and 30 new pictures a second pushed out everything
        # else cached there, the plots' axes included, which were then redrawn in Python
        # (measured: 46 axis repaints in 5 s, against 1 with this screen). The brush is also
        # cheaper to paint (0.08 against 0.23 ms a picture). Its pixels are opaque, so Qt
        # repaints nothing behind it.
        self._screen = QWidget(self)
        self._screen.setAutoFillBackground(True)
        self._screen.hide()
        self._screen_palette = self._screen.palette()
        self._caption = QLabel(self)
        self._caption.setStyleSheet(_CAPTION_STYLE)
        self._caption.setTextFormat(Qt.TextFormat.RichText)
        self._caption.hide()
        self._legend_label = QLabel(self)
        self._legend_label.setStyleSheet(_CAPTION_STYLE)
        self._legend_label.setTextFormat(Qt.TextFormat.RichText)
        self._legend_label.hide()
        # The model's colour (palette.py), the same as its curves and legend entries.
        self._accent_strip = QWidget(self)
        self._accent_strip.setAutoFillBackground(True)
        self._accent_strip.hide()
        self.accent: tuple[int, int, int] | None = None
        self.title = ""
        self.subtitle = ""
        self._legend: list[tuple[str, tuple[int, int, int]]] = []
        self._placeholder = "No video"
        self._backdrop.setText(self._placeholder)
        self.screen_size = (max(1, self.width()), max(1, self.height()))
        self._screen_rect = (0, 0, 0, 0)

    # -- content (GUI thread) ---------------------------------------------------

    @property
    def placeholder(self) -> str:
        return self._placeholder

    @placeholder.setter
    def placeholder(self, text: str) -> None:
        self._placeholder = text
        if self._image is None:
            self._backdrop.setText(text)

    def set_picture(self, image: np.ndarray | None, prepared: QImage | None = None) -> None:
        """Show ``image`` (BGR); ``prepared`` is its screen_image for this view's size, if one was made.

        A prepared image made for another size (the view was resized meanwhile) is
        not used: the picture is then scaled here.
        """
        had_picture, self._image = self._image is not None, image
        if image is None:
            self._screen.hide()
            self._screen_palette.setBrush(QPalette.ColorRole.Window, QColor(*_SCREEN_RGB))
            self._screen.setPalette(self._screen_palette)  # lets go of the last picture
            self._backdrop.setText(self._placeholder)
            return
        if prepared is None or (prepared.width(), prepared.height()) != shown_size((image.shape[1], image.shape[0]), self.screen_size):
            prepared = screen_image(image, self.screen_size)
        w, h = prepared.width(), prepared.height()
        rect = ((self.screen_size[0] - w) // 2, (self.screen_size[1] - h) // 2, w, h)
        if rect != self._screen_rect:
            self._screen_rect = rect
            self._screen.setGeometry(*rect)
        self._screen_palette.setBrush(QPalette.ColorRole.Window, QBrush(QPixmap.fromImage(prepared)))
        self._screen.setPalette(self._screen_palette)
        if not had_picture:
            self._backdrop.setText("")
            self._screen.show()

    def set_accent(self, colour: tuple[int, int, int] | None) -> None:
        """Mark the tile with its model's colour (None: no mark)."""
        if colour == self.accent:
            return
        self.accent = colour
        if colour is None:
            self._accent_strip.hide()
            self._caption.setStyleSheet(_CAPTION_STYLE)
            return
        palette = self._accent_strip.palette()
        palette.setColor(QPalette.ColorRole.Window, QColor(*colour))
        self._accent_strip.setPalette(palette)
        self._accent_strip.setGeometry(0, 0, self.width(), ACCENT_PX)
        self._accent_strip.show()
        self._accent_strip.raise_()
        self._caption.setStyleSheet(_CAPTION_STYLE + " border-left: {}px solid rgb({}, {}, {});".format(ACCENT_PX, *colour))
        self._fit_caption()

    def set_caption(self, title: str, subtitle: str = "") -> None:
        if (title, subtitle) == (self.title, self.subtitle):
            return
        self.title, self.subtitle = title, subtitle
        if not title:
            self._caption.hide()
            return
        text = f"<b>{html.escape(title)}</b>"
        if subtitle:
            text += f"<br><span style='color: rgb(200, 230, 255)'>{html.escape(subtitle)}</span>"
        self._caption.setText(text)
        self._fit_caption()
        self._caption.move(8, 8)
        self._caption.show()
        self._caption.raise_()

    @property
    def legend(self) -> list[tuple[str, tuple[int, int, int]]]:
        return self._legend

    @legend.setter
    def legend(self, entries: list[tuple[str, tuple[int, int, int]]]) -> None:
        if entries == self._legend:
            return
        self._legend = entries
        if not entries:
            self._legend_label.hide()
            return
        rows = "".join(
            f"<tr><td style='background: rgb({r}, {g}, {b})'>&nbsp;&nbsp;&nbsp;&nbsp;</td><td>&nbsp;{html.escape(name)}</td></tr>"
            for name, (b, g, r) in entries
        )
        self._legend_label.setText(f"<table cellspacing='3'>{rows}</table>")
        self._legend_label.adjustSize()
        self._place_legend()
        self._legend_label.show()
        self._legend_label.raise_()

    def picture(self) -> np.ndarray | None:
        return self._image

    # -- layout -------------------------------------------------------------------

    def _fit_caption(self) -> None:
        """One line when it fits the tile, else wrapped to the tile's width (never cut at its edge)."""
        caption, room = self._caption, max(60, self.width() - 16)
        if caption.wordWrap():
            caption.setWordWrap(False)
        caption.adjustSize()
        if caption.width() > room:
            caption.setWordWrap(True)  # a wrapped QLabel picks a narrow width of its own: give it the tile's
            caption.resize(room, caption.heightForWidth(room))

    def _place_legend(self) -> None:
        size = self._legend_label.sizeHint()
        self._legend_label.move(self.width() - size.width() - 8, self.height() - size.height() - 8)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        # A plain tuple, read by the engine's consumer thread to prepare pictures at this size.
        self.screen_size = (max(1, self.width()), max(1, self.height()))
        self._backdrop.setGeometry(self.rect())
        self._accent_strip.setGeometry(0, 0, self.width(), ACCENT_PX)
        if self.title:
            self._fit_caption()
        self._place_legend()
        if self._image is not None:
            self.set_picture(self._image)
        super().resizeEvent(event)
