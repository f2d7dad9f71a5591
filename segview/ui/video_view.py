"""VideoView: paints one composed picture with its caption; cheap enough for the GUI thread."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPainterPath
from PySide6.QtWidgets import QSizePolicy, QWidget


def bgr_to_qimage(image: np.ndarray) -> QImage:
    """A QImage holding its own copy of the pixels.

    Building a QImage over a numpy buffer (QImage(data, w, h, ...)) corrupts
    reference counts in PySide6 and crashes the interpreter at exit, so the
    pixels are copied into memory the QImage owns.
    """
    h, w = image.shape[:2]
    qimage = QImage(w, h, QImage.Format.Format_BGR888)
    stride = qimage.bytesPerLine()
    target = np.frombuffer(qimage.bits(), np.uint8, count=stride * h).reshape(h, stride)
    target[:, : w * 3] = image.reshape(h, w * 3)
    return qimage


class VideoView(QWidget):
    """Shows a picture scaled to fit (letterboxed), a caption, and a colour legend when there are classes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 150)
        self._image: np.ndarray | None = None
        self._qimage: QImage | None = None
        self.title = ""
        self.subtitle = ""
        self.legend: list[tuple[str, tuple[int, int, int]]] = []
        self.placeholder = "No video"

    def set_picture(self, image: np.ndarray | None) -> None:
        """GUI thread. The picture is scaled here with OpenCV (about 0.5 ms, without the GIL) so
        painting is a plain copy: Qt's smooth scaling in paintEvent costs several times more,
        and at 30 pictures a second that time comes out of the models' cores."""
        self._image = image
        if image is None:
            self._qimage = None
        else:
            w, h = self._fit(image.shape[1], image.shape[0])
            # Linear even when shrinking: INTER_AREA looks marginally better and costs five times more.
            scaled = image if (w, h) == (image.shape[1], image.shape[0]) else cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)
            self._qimage = bgr_to_qimage(scaled)
        self.update()

    def _fit(self, iw: int, ih: int) -> tuple[int, int]:
        scale = min(self.width() / iw, self.height() / ih)
        return max(1, int(iw * scale)), max(1, int(ih * scale))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self._image is not None:
            self.set_picture(self._image)
        super().resizeEvent(event)

    def set_caption(self, title: str, subtitle: str = "") -> None:
        self.title, self.subtitle = title, subtitle
        self.update()

    def picture(self) -> np.ndarray | None:
        return self._image

    def image_rect(self) -> QRectF:
        if self._qimage is None:
            return QRectF(self.rect())
        w, h = self._qimage.width(), self._qimage.height()
        return QRectF((self.width() - w) // 2, (self.height() - h) // 2, w, h)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(24, 26, 30))
        if self._qimage is not None:
            painter.drawImage(self.image_rect().topLeft(), self._qimage)
        else:
            painter.setPen(QColor(140, 145, 155))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
        self._paint_caption(painter)
        if self.legend:
            self._paint_legend(painter)
        painter.end()

    def _paint_caption(self, painter: QPainter) -> None:
        if not self.title:
            return
        font = QFont(self.font())
        font.setPointSizeF(10.5)
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        text_w = max(metrics.horizontalAdvance(self.title), metrics.horizontalAdvance(self.subtitle) if self.subtitle else 0)
        lines = 2 if self.subtitle else 1
        box = QRectF(8, 8, text_w + 20, lines * metrics.height() + 10)
        path = QPainterPath()
        path.addRoundedRect(box, 6, 6)
        painter.fillPath(path, QColor(0, 0, 0, 150))
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(box.adjusted(10, 5, -10, -5), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, self.title)
        if self.subtitle:
            font.setBold(False)
            painter.setFont(font)
            painter.setPen(QColor(200, 230, 255))
            painter.drawText(box.adjusted(10, 5 + metrics.height(), -10, -5), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, self.subtitle)

    def _paint_legend(self, painter: QPainter) -> None:
        metrics = painter.fontMetrics()
        row = metrics.height() + 4
        width = max(metrics.horizontalAdvance(name) for name, _ in self.legend) + 34
        box = QRectF(self.width() - width - 8, self.height() - row * len(self.legend) - 16, width, row * len(self.legend) + 8)
        path = QPainterPath()
        path.addRoundedRect(box, 6, 6)
        painter.fillPath(path, QColor(0, 0, 0, 150))
        for i, (name, (b, g, r)) in enumerate(self.legend):
            y = box.top() + 4 + i * row
            painter.fillRect(QRectF(box.left() + 8, y + 3, 14, row - 8), QColor(r, g, b))
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(QRectF(box.left() + 28, y, width - 30, row), Qt.AlignmentFlag.AlignVCenter, name)
