"""Recording pictures to an MP4 file (H.264 through PyAV), encoded on a thread of its own.

Whoever produces pictures (the studio's consumer thread) only calls
:meth:`VideoWriter.submit`, which never blocks: pictures wait in a bounded
queue, and when the encoder falls behind the newest are dropped and counted
rather than holding the pipeline up. Each picture's presentation time is the
wall-clock time it arrived (milliseconds from the first), so the video plays at
the real rate pictures were composed, however irregular. The file is written
under a temporary name in the target folder and renamed when it is complete:
a crash or a full disk never leaves a half-written MP4 under the final name.
"""

from __future__ import annotations

import contextlib
import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from segview.errors import SegviewError
from segview.render.mosaic import fit_into

# H.264 first; PyAV wheels carry libx264, a system FFmpeg build may not (then MPEG-4 Part 2).
CODECS = ("libx264", "mpeg4")
# Cheapest x264 preset: the encoder shares the cores with the models it films.
_CODEC_OPTIONS = {"libx264": {"preset": "ultrafast", "crf": "20"}}
_MPEG4_BIT_RATE = 8_000_000
TIME_BASE = Fraction(1, 1000)
QUEUE_SIZE = 8
NOMINAL_RATE = 30  # only the container's hint: each frame carries its own time


@dataclass(frozen=True, slots=True)
class VideoResult:
    path: Path | None  # None when nothing usable was written
    frames: int
    dropped: int
    codec: str | None
    seconds: float
    note: str = ""  # e.g. why the codec is not H.264
    problem: str | None = None


class VideoWriter:
    """``submit(item, t)`` from any thread; ``prepare(item)`` turns an item into a BGR image on the encoder thread."""

    def __init__(
        self,
        path: Path,
        *,
        prepare: Callable[[Any], np.ndarray] = lambda image: image,
        on_finished: Callable[[VideoResult], None] | None = None,
        queue_size: int = QUEUE_SIZE,
        codecs: Sequence[str] = CODECS,
    ) -> None:
        self.path = Path(path)
        self.prepare = prepare
        self.on_finished = on_finished
        self.codecs = tuple(codecs)
        self.dropped = 0
        self.frames = 0
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._stopping = threading.Event()
        self._result: VideoResult | None = None
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._tmp: Path | None = None
        self._container: av.container.OutputContainer | None = None

    def start(self) -> None:
        """Opens the temporary file now, so an unusable folder is reported to the caller (SegviewError)."""
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part", dir=folder)
            os.close(fd)
            self._tmp = Path(tmp)
            self._container = av.open(tmp, mode="w", format="mp4")
        except (OSError, av.FFmpegError) as exc:
            self._discard()
            raise SegviewError(f"cannot record video into {folder}: {getattr(exc, 'strerror', None) or exc}") from None
        self._thread = threading.Thread(target=self._run, name="segview-video-writer", daemon=True)
        self._thread.start()

    def submit(self, item: Any, t: float | None = None) -> bool:
        """Hand a picture over (never blocks); False if it was dropped (queue full, or stopping)."""
        if self._stopping.is_set():
            return False
        try:
            self._queue.put_nowait((item, time.perf_counter() if t is None else t))
            return True
        except queue.Full:
            self.dropped += 1
            return False

    def stop(self) -> None:
        """Ask the encoder to finish what is queued, flush and close the file; returns at once (see wait)."""
        self._stopping.set()

    def wait(self, timeout: float | None = None) -> VideoResult | None:
        """The result once the file is closed (None if not within ``timeout``)."""
        self._done.wait(timeout)
        return self._result

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    # -- encoder thread -------------------------------------------------------

    def _run(self) -> None:
        assert self._container is not None, "start() opens the file before it starts this thread"
        encoder = _Encoder(self._container, self.codecs)
        problem = None
        try:
            while True:
                try:
                    item, t = self._queue.get(timeout=0.1)
                except queue.Empty:
                    if self._stopping.is_set():
                        break
                    continue
                encoder.add(self.prepare(item), t)
                self.frames = encoder.frames
            encoder.close()
        except Exception as exc:  # a full disk, a codec refusing a size: reported, never raised into a thread
            problem = f"video recording failed: {getattr(exc, 'strerror', None) or exc}"
            self._stopping.set()
            encoder.abandon()
        self._finish(encoder, problem)

    def _finish(self, encoder: _Encoder, problem: str | None) -> None:
        path = None
        if problem is None and encoder.frames == 0:
            problem = "no pictures were recorded (was the video playing?)"
        if problem is None:
            assert self._tmp is not None, "start() made the temporary file"
            try:
                os.replace(self._tmp, self.path)
                path = self.path
            except OSError as exc:
                problem = f"cannot save {self.path}: {exc.strerror or exc}"
        if path is None:
            self._discard()
        self._result = VideoResult(path, encoder.frames, self.dropped, encoder.codec, encoder.seconds, encoder.note, problem)
        self._done.set()
        if self.on_finished is not None:
            self.on_finished(self._result)

    def _discard(self) -> None:
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._tmp)


class _Encoder:
    """One MP4 stream, opened at the first picture (its size fixes the video's size)."""

    def __init__(self, container: av.container.OutputContainer, codecs: Sequence[str]) -> None:
        self.container = container
        self.codecs = codecs
        self.stream: av.video.stream.VideoStream | None = None
        self.codec: str | None = None
        self.note = ""
        self.frames = 0
        self.size: tuple[int, int] | None = None
        self._t0: float | None = None
        self._last_pts = -1

    @property
    def seconds(self) -> float:
        return max(0, self._last_pts) / 1000.0

    def add(self, image: np.ndarray, t: float) -> None:
        if self.stream is None:
            self._open(image)
            self._t0 = t
        stream, size, t0 = self.stream, self.size, self._t0
        assert stream is not None and size is not None and t0 is not None, "_open() sets them or raises"
        image = fit_into(image, size)  # a model ticked mid-recording changes the tiles, not the video's size
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        # Times in ms from the first picture, strictly increasing (two pictures in one ms stay apart).
        self._last_pts = max(self._last_pts + 1, int(round((t - t0) * 1000)))
        frame.pts, frame.time_base = self._last_pts, TIME_BASE
        self.container.mux(stream.encode(frame))
        self.frames += 1

    def _open(self, image: np.ndarray) -> None:
        h, w = image.shape[:2]
        # yuv420p needs even sizes: round down (at most a pixel row/column is lost).
        self.size = (max(2, w - w % 2), max(2, h - h % 2))
        missing = []
        for codec in self.codecs:
            try:
                stream = self.container.add_stream(codec, rate=NOMINAL_RATE, options=_CODEC_OPTIONS.get(codec, {}))
            except (av.codec.codec.UnknownCodecError, ValueError):
                missing.append(codec)
                continue
            if not isinstance(stream, av.video.stream.VideoStream):  # the name of an audio or subtitle codec
                missing.append(codec)
                continue
            stream.width, stream.height = self.size
            stream.pix_fmt = "yuv420p"
            stream.codec_context.time_base = TIME_BASE
            if codec == "mpeg4":
                stream.bit_rate = _MPEG4_BIT_RATE
            self.stream, self.codec = stream, codec
            if missing:
                self.note = f"{', '.join(missing)} not available in this PyAV build: recorded with {codec}"
            return
        raise SegviewError(f"no video encoder available (tried {', '.join(self.codecs)})")

    def close(self) -> None:
        if self.stream is not None:
            self.container.mux(self.stream.encode(None))  # flush the frames the encoder still holds
        self.container.close()

    def abandon(self) -> None:
        with contextlib.suppress(Exception):
            self.container.close()
