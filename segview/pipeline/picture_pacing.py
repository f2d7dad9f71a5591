"""PicturePacer: how often the studio composes a picture for the screen.

A picture costs the models it shows: composing and scaling it on the consumer
thread, then handing it to the window and painting it, all take CPU and the GIL
the inference workers need between their C calls. While the workers wait for
frames anyway (a camera, a file played at its own rate), that costs nothing and
the screen gets every picture it can show (about 30 a second). While the models
are the bottleneck (a file read as fast as they take it, a camera faster than
they are), each picture is frames the models did not process: then pictures
are spaced by ``busy_interval_s``.

Measured (selfie-general on the demo clip read as fast as it takes it, studio at
1400x860 offscreen, 2 shared cores, alternating rounds against ``segview bench``):
with two training runs holding the cores, studio/bench 1.12 paced against 0.89
at 30 pictures a second (4 rounds); on a quieter machine the difference was
within the rounds' noise (6 rounds: 0.97/0.91 paced, 0.91/0.96 unpaced, ratio
of medians / median of per-round ratios).

Whether the models are the bottleneck is read from the pipeline's frame
channel: a worker that finds no frame ready waits for the source; when fewer
than ``BUSY_WAIT_SHARE`` of the frames processed over the last
``window_s`` were waited for, the source outruns the models.

Thread: the pipeline's consumer thread only; one pacer per pipeline (its counts start at 0).
"""

from __future__ import annotations

import math

# Pictures a second while the models are the bottleneck: enough to follow the video, and each one
# fewer is CPU and GIL time back to the models.
BUSY_INTERVAL_S = 0.1
BUSY_WAIT_SHARE = 0.2
WINDOW_S = 0.5
# Fewer frames than this in a window says nothing (a slow model, a stalled source): not busy.
MIN_FRAMES = 5


class PicturePacer:
    def __init__(self, busy_interval_s: float = BUSY_INTERVAL_S, window_s: float = WINDOW_S) -> None:
        self.busy_interval_s = busy_interval_s
        self.window_s = window_s
        self.busy = False
        self._window_start: float | None = None
        self._frames_at_start = 0
        self._waits_at_start = 0
        self._last_composed = -math.inf

    def due(self, now: float, frames_done: int, frames_waited_for: int) -> bool:
        """True when a picture should be composed for the frame completed at ``now`` (perf_counter s).

        ``frames_done`` and ``frames_waited_for`` are the pipeline's running counts
        (frames processed, and how often a worker waited for a frame).
        """
        self._update_busy(now, frames_done, frames_waited_for)
        return not self.busy or now - self._last_composed >= self.busy_interval_s

    def composed(self, now: float) -> None:
        self._last_composed = now

    def _update_busy(self, now: float, frames: int, waits: int) -> None:
        if self._window_start is None:
            self._start_window(now, frames, waits)
            return
        if now - self._window_start < self.window_s:
            return
        done = frames - self._frames_at_start
        waited = waits - self._waits_at_start
        self.busy = done >= MIN_FRAMES and waited <= BUSY_WAIT_SHARE * done
        self._start_window(now, frames, waits)

    def _start_window(self, now: float, frames: int, waits: int) -> None:
        self._window_start, self._frames_at_start, self._waits_at_start = now, frames, waits
