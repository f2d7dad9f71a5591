"""Cameras through OpenCV (V4L2 on Linux, AVFoundation on macOS, Media Foundation on Windows)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from segview.errors import SourceError
from segview.sources.base import FrameSource
from segview.sources.spec import SourceSpec, register_scheme

cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)

V4L_SYSFS = Path("/sys/class/video4linux")
# A camera that fails this many reads in a row is considered lost.
MAX_FAILED_READS = 10


@dataclass(frozen=True, slots=True)
class CameraInfo:
    index: int
    device: str
    name: str

    @property
    def source_name(self) -> str:
        return f"camera:{self.index}"


def list_cameras(sysfs: Path = V4L_SYSFS) -> list[CameraInfo]:
    """Cameras found without opening them where the OS allows it (opening a camera can take a second)."""
    if sys.platform.startswith("linux"):
        return _list_v4l(sysfs)
    cameras = []
    for index in range(4):
        capture = cv2.VideoCapture(index)
        if capture.isOpened():
            cameras.append(CameraInfo(index, str(index), f"camera {index}"))
        capture.release()
    return cameras


def _list_v4l(sysfs: Path) -> list[CameraInfo]:
    cameras: list[CameraInfo] = []
    if not sysfs.is_dir():
        return cameras
    for node in sorted(sysfs.glob("video*"), key=lambda p: int(p.name[5:]) if p.name[5:].isdigit() else 1 << 30):
        if not node.name[5:].isdigit():
            continue
        # Each USB camera exposes several nodes; only "index 0" delivers frames.
        index_file = node / "index"
        if index_file.exists() and index_file.read_text().strip() not in ("", "0"):
            continue
        name_file = node / "name"
        name = name_file.read_text().strip() if name_file.exists() else node.name
        cameras.append(CameraInfo(int(node.name[5:]), f"/dev/{node.name}", name))
    return cameras


class CameraSource(FrameSource):
    """A live camera: frames arrive in real time, so the pipeline keeps only the newest."""

    is_live = True

    def __init__(self, device: int | str, *, size: tuple[int, int] | None = None, fps: float | None = None) -> None:
        super().__init__()
        self.device = device
        self.requested_size = size
        self.requested_fps = fps
        self.name = f"camera:{device}"
        self.problem: str | None = None
        self._capture: cv2.VideoCapture | None = None
        self._pending: np.ndarray | None = None

    def open(self) -> None:
        if isinstance(self.device, int) and sys.platform.startswith("linux") and not os.path.exists(f"/dev/video{self.device}"):
            found = ", ".join(c.source_name for c in list_cameras()) or "none"
            raise SourceError(f"camera {self.device} not found (/dev/video{self.device} does not exist; cameras found: {found})")
        if isinstance(self.device, str) and not os.path.exists(self.device):
            raise SourceError(f"camera device not found: {self.device}")
        capture = cv2.VideoCapture(self.device)
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"camera {self.device} could not be opened (in use by another program, or not a camera)")
        if self.requested_size:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.requested_size[0])
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.requested_size[1])
        if self.requested_fps:
            capture.set(cv2.CAP_PROP_FPS, self.requested_fps)
        ok, image = capture.read()
        if not ok or image is None:
            capture.release()
            raise SourceError(f"camera {self.device} opened but delivered no frame")
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.nominal_fps = float(fps) if fps and fps > 0 else None
        self._capture = capture
        self._pending = image

    def _read_image(self) -> np.ndarray | None:
        if self._capture is None:
            return None
        if self._pending is not None:
            image, self._pending = self._pending, None
            return image
        for _ in range(MAX_FAILED_READS):
            ok, image = self._capture.read()
            if ok and image is not None:
                return image
        self.problem = f"camera {self.device} stopped delivering frames (unplugged or in use)"
        return None

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


def _from_spec(spec: SourceSpec) -> CameraSource:
    target = spec.target or "0"
    device: int | str = int(target) if target.isdigit() else target
    return CameraSource(device, size=spec.size(), fps=spec.number("fps"))


register_scheme("camera", _from_spec)
