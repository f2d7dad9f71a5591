"""Annex-B H.264 bytes in, decoded frames out: PyAV's parser and decoder on one thread.

Used by one thread only (the screen stream's decode thread). Frames are
returned as ``av.VideoFrame`` (YUV, as decoded): turning one into a BGR
array costs a few milliseconds at phone resolutions, so that is done only for
the frames somebody takes (:func:`to_bgr`, on the taker's thread).

H.264's parser holds a frame back until the next one starts (it cannot know
the frame is complete before), which would delay every frame by one frame
interval and hide the last frame of a still screen. :meth:`flush` hands the
held frame over when the input has gone quiet.
"""

from __future__ import annotations

import av
import numpy as np


class H264Decoder:
    def __init__(self, *, threads: int = 1) -> None:
        self._threads = threads
        self.frames_out = 0
        self.bytes_in = 0
        self.errors = 0
        self.last_error = ""
        self._ctx = self._new_context()
        self._pending = False  # bytes fed since the last flush that may hold a frame

    def _new_context(self) -> av.video.codeccontext.VideoCodecContext:
        ctx = av.CodecContext.create("h264", "r")
        # One thread: frame threading would delay every frame by the thread count.
        ctx.thread_count = self._threads
        ctx.thread_type = "SLICE" if self._threads > 1 else "NONE"
        return ctx

    @property
    def pending(self) -> bool:
        """Bytes were fed since the last flush: the parser may hold a frame back."""
        return self._pending

    def reset(self) -> None:
        """Forget the stream (a new screenrecord run starts with fresh parameter sets)."""
        self._ctx = self._new_context()
        self._pending = False

    def feed(self, data: bytes) -> list[av.VideoFrame]:
        """Decode what ``data`` completes. Damaged input is counted in ``errors``, never raised."""
        self.bytes_in += len(data)
        self._pending = True
        try:
            packets = self._ctx.parse(data)
        except av.FFmpegError as exc:
            self._note_error(exc)
            return []
        return self._decode(packets)

    def flush(self) -> list[av.VideoFrame]:
        """Decode the frame the parser holds back (call when no bytes came for a few milliseconds)."""
        if not self._pending:
            return []
        self._pending = False
        try:
            packets = self._ctx.parse(b"")
        except av.FFmpegError as exc:
            self._note_error(exc)
            return []
        return self._decode(packets)

    def _decode(self, packets) -> list[av.VideoFrame]:
        frames: list[av.VideoFrame] = []
        for packet in packets:
            try:
                frames.extend(self._ctx.decode(packet))
            except av.FFmpegError as exc:
                self._note_error(exc)
        self.frames_out += len(frames)
        return frames

    def _note_error(self, exc: Exception) -> None:
        self.errors += 1
        self.last_error = str(exc)


def to_bgr(frame: av.VideoFrame) -> np.ndarray:
    """A decoded frame as BGR uint8 (H, W, 3); any thread."""
    return frame.to_ndarray(format="bgr24")
