"""A folder of images, in name order."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from segview.errors import SourceError
from segview.sources.base import FrameSource, Pacer
from segview.sources.spec import SourceSpec, register_scheme

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def list_images(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()), key=_natural_key)


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
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
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
