"""Drag and drop onto the studio window: a video file or an image folder becomes the source,
an .onnx file is registered and ticked. Anything else is named in the window, which keeps running.

Installed as an event filter on the window, so the window's own code only
turns drops on (setAcceptDrops) and hands over the intents below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QObject
from PySide6.QtGui import QDropEvent

from segview.sources.image_folder import IMAGE_SUFFIXES

VIDEO_SUFFIXES = {".mp4", ".m4v", ".mkv", ".avi", ".mov", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ts"}


@dataclass(frozen=True, slots=True)
class DropIntent:
    kind: str  # "source", "model" or "problem"
    value: str  # a source name, a model path, or the message


def intent_for(path: Path) -> DropIntent:
    """What dropping ``path`` means (pure: decided from the path and what is on disk)."""
    if path.is_dir():
        return DropIntent("source", f"folder:{path}")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return DropIntent("model", str(path))
    if suffix in VIDEO_SUFFIXES:
        return DropIntent("source", f"file:{path}")
    if suffix in IMAGE_SUFFIXES:
        return DropIntent("problem", f"cannot use {path.name}: drop the folder holding the images, not one image")
    return DropIntent("problem", f"cannot use {path.name}: drop a video file, an image folder or an .onnx model")


def dropped_paths(mime: QMimeData) -> list[Path]:
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()] if mime.hasUrls() else []


class DropHandler(QObject):
    """Accepts local files on the window and calls ``open_source(name)`` / ``open_model(path)`` / ``show_problem(text)``."""

    def __init__(
        self,
        window,
        *,
        open_source: Callable[[str], bool],
        open_model: Callable[[Path], bool],
        show_problem: Callable[[str], None],
    ) -> None:
        super().__init__(window)
        self.open_source = open_source
        self.open_model = open_model
        self.show_problem = show_problem
        window.setAcceptDrops(True)
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        kind = event.type()
        if not isinstance(event, QDropEvent):  # drag enter and drag move events are drop events too
            return False
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            if dropped_paths(event.mimeData()):
                event.acceptProposedAction()
                return True
            return False
        if kind == QEvent.Type.Drop:
            paths = dropped_paths(event.mimeData())
            if not paths:
                return False
            event.acceptProposedAction()
            self.handle(paths)
            return True
        return False

    def handle(self, paths: list[Path]) -> list[bool]:
        """Each path in turn (several models can be dropped at once); True for each one used."""
        done = []
        for path in paths:
            intent = intent_for(path)
            if intent.kind == "source":
                done.append(self.open_source(intent.value))
            elif intent.kind == "model":
                done.append(self.open_model(Path(intent.value)))
            else:
                self.show_problem(intent.value)
                done.append(False)
        return done
