"""Video files, decoded with PyAV (FFmpeg): the same decoder the phone stream uses."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from segview.errors import SourceError
from segview.sources.base import FrameSource, Pacer
from segview.sources.spec import SourceSpec, register_scheme

# FFmpeg's own log lines would bypass our one-line error messages.
av.logging.set_level(av.logging.PANIC)


class VideoFileSource(FrameSource):
    """Frames of a video file, as fast as the reader takes them, or at the file's rate.

    ``loop`` restarts at the end; ``realtime`` paces frames at the file's frame
    rate (for the studio); a stream that breaks mid-way ends the source and
    leaves the reason in ``problem``.
    """

    def __init__(self, path: Path, *, loop: bool = False, realtime: bool = False, name: str | None = None) -> None:
        super().__init__()
        self.path = path
        self.loop = loop
        self.realtime = realtime
        self.name = name or f"file:{path.name}"
        self.problem: str | None = None
        self.loops_completed = 0
        self._container: av.container.InputContainer | None = None
        self._frames = None
        self._pacer = Pacer(None)

    def open(self) -> None:
        if not self.path.exists():
            raise SourceError(f"video file not found: {self.path}")
        if self.path.is_dir():
            raise SourceError(f"{self.path} is a folder; use folder:{self.path} for images")
        try:
            self._container = av.open(str(self.path), mode="r")
            stream = self._container.streams.video[0]
        except IndexError:
            self.close()
            raise SourceError(f"{self.path.name} has no video stream") from None
        except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
            self.close()
            raise SourceError(f"cannot decode video {self.path.name}: {_reason(exc)}") from None
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate
        self.nominal_fps = float(rate) if rate else None
        self._pacer = Pacer(self.nominal_fps if self.realtime else None)
        self._frames = self._container.decode(stream)
        first = self._decode_next()
        if first is None:
            self.close()
            raise SourceError(f"cannot decode video {self.path.name}: {self.problem or 'no frames in it'}")
        self._pending: np.ndarray | None = first

    def _decode_next(self) -> np.ndarray | None:
        try:
            frame = next(self._frames)
        except StopIteration:
            return None
        except (av.error.FFmpegError, OSError) as exc:
            self.problem = f"{self.path.name} is damaged after frame {self._index}: {_reason(exc)}"
            return None
        return frame.to_ndarray(format="bgr24")

    def _rewind(self) -> bool:
        stream = self._container.streams.video[0]
        try:
            self._container.seek(0, stream=stream)
        except av.error.FFmpegError:
            return False
        self._frames = self._container.decode(stream)
        self.loops_completed += 1
        return True

    def _read_image(self) -> np.ndarray | None:
        if self._container is None:
            return None
        if self._pending is not None:
            image, self._pending = self._pending, None
        else:
            image = self._decode_next()
            if image is None and self.loop and self.problem is None and self._rewind():
                image = self._decode_next()
        if image is not None:
            self._pacer.wait()
        return image

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def _from_spec(spec: SourceSpec) -> VideoFileSource:
    return VideoFileSource(Path(spec.target).expanduser(), loop=spec.flag("loop"), realtime=spec.flag("realtime"))


register_scheme("file", _from_spec)
