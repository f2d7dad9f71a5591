"""A folder of images, in name order."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from segview.errors import SourceError
from segview.sources.base import FrameSource, Pacer
from segview.sources.spec import SourceSpec, register_scheme

_STDERR_LOCK = threading.Lock()  # two readers must not save and restore the descriptor across each other
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def list_images(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()), key=_natural_key)


def read_image(path: Path) -> np.ndarray | None:
    """cv2.imread, without libjpeg's own lines on stderr ("Premature end of JPEG file") ahead of segview's:
    callers count and report what could not be read themselves."""
    with _STDERR_LOCK, _stderr_silenced():
        return cv2.imread(str(path), cv2.IMREAD_COLOR)


@contextmanager
def _stderr_silenced() -> Iterator[None]:
    # libjpeg writes with fprintf(stderr), below Python and OpenCV's log level: only the descriptor can be redirected.
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _natural_key(path: Path) -> tuple:
    """'2.jpg' before '10.jpg'."""
    stem = path.stem
    return (0, int(stem), path.name) if stem.isdigit() else (1, 0, path.name)


class ImageFolderSource(FrameSource):
    """Unreadable files are skipped and counted in ``skipped``; ``fps`` paces them for viewing."""

    def __init__(self, folder: Path, *, loop: bool = False, fps: float | None = None) -> None:
        super().__init__()
        self.folder = folder
        self.loop = loop
        self.nominal_fps = fps
        self.name = f"folder:{folder.name}"
        self.skipped: list[Path] = []
        self._paths: list[Path] = []
        self._position = 0
        self.pacer = Pacer(fps)

    def open(self) -> None:
        if not self.folder.exists():
            raise SourceError(f"image folder not found: {self.folder}")
        if not self.folder.is_dir():
            raise SourceError(f"{self.folder} is not a folder")
        self._paths = list_images(self.folder)
        if not self._paths:
            suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
            raise SourceError(f"no images in {self.folder} (looked for {suffixes})")

    def warnings(self) -> list[str]:
        if not self.skipped:
            return []
        names = ", ".join(p.name for p in self.skipped[:5]) + (", ..." if len(self.skipped) > 5 else "")
        return [f"{len(self.skipped)} of the {len(self._paths)} images in {self.folder} could not be read and were skipped ({names})"]

    def _read_image(self) -> np.ndarray | None:
        attempts = 0
        while attempts < len(self._paths):
            if self._position >= len(self._paths):
                if not self.loop:
                    return None
                self._position = 0
            path = self._paths[self._position]
            self._position += 1
            attempts += 1
            image = read_image(path)
            if image is not None:
                return image
            if path not in self.skipped:
                self.skipped.append(path)
        if len(self.skipped) == len(self._paths):
            raise SourceError(f"none of the {len(self._paths)} images in {self.folder} could be read")
        return None


def _from_spec(spec: SourceSpec) -> ImageFolderSource:
    return ImageFolderSource(Path(spec.target).expanduser(), loop=spec.flag("loop"), fps=spec.number("fps"))


register_scheme("folder", _from_spec)
