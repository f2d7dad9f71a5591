"""Calibration frames: from an image folder, a video, or a live source; split into calibration and held-out frames.

Static quantization needs representative inputs; so do bias correction and the
accuracy-aware searches. The last ``held_out`` fraction of the frames is never
used for calibration: reports measure agreement with the source model on it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from onnxruntime.quantization import CalibrationDataReader

from segview.compress.step import CancelToken
from segview.errors import DataError, SegviewError
from segview.inference.card import ModelCard
from segview.inference.preprocess import Preprocessor
from segview.sources.image_folder import IMAGE_SUFFIXES, list_images
from segview.sources.spec import open_source

# Frames are kept at most this wide or tall: models take 256 px, and a few hundred 4K frames would not fit in memory.
MAX_FRAME_SIDE = 640


@dataclass(frozen=True, slots=True)
class CalibrationSpec:
    """Where calibration frames come from: an image folder, a video file, or a source name (camera:0, demo, adb)."""

    source: str
    max_frames: int = 100
    held_out: float = 0.3

    def validate(self) -> None:
        if self.max_frames < 1:
            raise DataError("calibration needs at least one frame (max_frames >= 1)")
        if not 0.0 <= self.held_out < 1.0:
            raise DataError("the held-out fraction of calibration frames must be in [0, 1)")

    def to_json_dict(self) -> dict[str, Any]:
        return {"source": self.source, "max_frames": self.max_frames, "held_out": self.held_out}

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> CalibrationSpec:
        try:
            spec = cls(source=str(data["source"]), max_frames=int(data.get("max_frames", 100)), held_out=float(data.get("held_out", 0.3)))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"recipe: malformed calibration section ({exc})") from None
        spec.validate()
        return spec


@dataclass(frozen=True, slots=True)
class CalibrationSet:
    source: str
    calibration_frames: tuple[np.ndarray, ...]
    held_out_frames: tuple[np.ndarray, ...]

    def tensors(self, card: ModelCard, *, held_out: bool = False, limit: int | None = None) -> list[np.ndarray]:
        frames = self.held_out_frames if held_out else self.calibration_frames
        pre = Preprocessor(card)
        return [pre(f) for f in frames[:limit]]

    def reader(self, card: ModelCard, cancel: CancelToken | None = None, *, limit: int | None = None) -> FrameReader:
        return FrameReader(card.input_name, self.tensors(card, limit=limit), cancel)


class FrameReader(CalibrationDataReader):
    """onnxruntime's calibration protocol over preprocessed frames; checks the cancel token on every frame."""

    def __init__(self, input_name: str, tensors: list[np.ndarray], cancel: CancelToken | None = None) -> None:
        self.input_name = input_name
        self.tensors = tensors
        self.cancel = cancel
        self._position = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.cancel is not None:
            self.cancel.check()
        if self._position >= len(self.tensors):
            return None
        tensor = self.tensors[self._position]
        self._position += 1
        return {self.input_name: tensor}

    def rewind(self) -> None:
        self._position = 0

    def __len__(self) -> int:
        return len(self.tensors)


def load_calibration(spec: CalibrationSpec, *, cancel: CancelToken | None = None, progress: Callable[[int, int], None] | None = None) -> CalibrationSet:
    spec.validate()
    frames = read_frames(spec.source, spec.max_frames, cancel=cancel, progress=progress)
    held = int(round(len(frames) * spec.held_out))
    if spec.held_out > 0 and len(frames) >= 2:
        held = min(max(held, 1), len(frames) - 1)
    else:
        held = 0
    # Contiguous split: neighbouring video frames are near copies, so interleaving would leak calibration into the measurement.
    split = len(frames) - held
    return CalibrationSet(spec.source, tuple(frames[:split]), tuple(frames[split:]))


def read_frames(source: str, max_frames: int, *, cancel: CancelToken | None = None, progress: Callable[[int, int], None] | None = None) -> list[np.ndarray]:
    """Up to ``max_frames`` BGR frames, evenly spread over a folder or file; raises DataError with the reason."""
    path = Path(source).expanduser()
    if path.is_dir():
        return _folder_frames(path, max_frames, cancel, progress)
    if path.suffix and not path.exists():
        raise DataError(f"calibration source not found: {source}")
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise DataError(f"calibration image {path.name} cannot be read")
        return [_shrink(image)]
    return _source_frames(source, max_frames, cancel, progress)


def _folder_frames(folder: Path, max_frames: int, cancel, progress) -> list[np.ndarray]:
    try:
        paths = list_images(folder)
    except OSError as exc:
        raise DataError(f"cannot read calibration folder {folder}: {exc.strerror or exc}") from None
    if not paths:
        raise DataError(f"no images in calibration folder {folder} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    chosen = _spread(paths, max_frames)
    frames = []
    for i, p in enumerate(chosen):
        if cancel is not None:
            cancel.check()
        image = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if image is not None:
            frames.append(_shrink(image))
        if progress is not None:
            progress(i + 1, len(chosen))
    if not frames:
        raise DataError(f"none of the {len(chosen)} images in calibration folder {folder} could be read")
    return frames


def _source_frames(source: str, max_frames: int, cancel, progress) -> list[np.ndarray]:
    try:
        src = open_source(source)
    except SegviewError as exc:
        raise DataError(f"calibration source {source}: {exc}") from None
    try:
        count = getattr(src, "frame_count", None)
        # Files: spread the frames over the whole clip; live sources: take them as they come.
        stride = max(1, math.ceil(count / max_frames)) if count else 1
        frames: list[np.ndarray] = []
        index = 0
        while len(frames) < max_frames:
            if cancel is not None:
                cancel.check()
            frame = src.read()
            if frame is None:
                break
            if index % stride == 0:
                frames.append(_shrink(frame.image))
                if progress is not None:
                    progress(len(frames), max_frames)
            index += 1
    except SegviewError as exc:
        raise DataError(f"calibration source {source}: {exc}") from None
    finally:
        src.close()
    if not frames:
        raise DataError(f"calibration source {source} gave no frames")
    return frames


def _spread(items: list, count: int) -> list:
    if len(items) <= count:
        return list(items)
    idx = np.linspace(0, len(items) - 1, count).round().astype(int)
    return [items[i] for i in dict.fromkeys(idx.tolist())]


def _shrink(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    side = max(h, w)
    if side <= MAX_FRAME_SIDE:
        return image
    scale = MAX_FRAME_SIDE / side
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
