"""Pipeline: one capture thread, N inference workers, one consumer thread.

    source --(capture thread)--> frames --(workers: pre, run, post for each model)--> results --(consumer thread)--> consumers

Two workers on two cores keep both busy: while one runs a model, the other
prepares or finishes its frame, and the capture thread decodes the next.
onnxruntime releases the GIL inside ``run``, and OpenCV and PyAV release it
while resizing and decoding, so the threads truly overlap.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2

from segview.errors import ModelError, SegviewError
from segview.inference.session import SegmentationSession, first_line
from segview.pipeline.channel import Channel, Closed
from segview.sources.base import FrameSource
from segview.types import Frame, SegmentationResult, StageTimings

Consumer = Callable[["FrameResults"], None]


@dataclass(frozen=True, slots=True)
class FrameResults:
    """Every selected model's result for one frame: the frame and its masks belong together."""

    frame: Frame
    results: tuple[SegmentationResult, ...]
    completed_at: float
    worker: int = -1  # the index of the worker thread that ran the models (-1: not from a worker)


@dataclass(slots=True)
class PipelineStats:
    frames_captured: int = 0
    frames_processed: int = 0
    # Live sources: frames replaced by a newer one before any worker took them.
    frames_dropped: int = 0
    # Live sources: results that finished after a newer frame's results were delivered.
    results_late: int = 0
    problems: list[str] = field(default_factory=list)


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def threads_per_session(workers: int) -> int:
    """Share the cores between the workers: each run gets cores/workers threads."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


class Pipeline:
    """Runs sessions over a source until it ends, ``max_frames`` frames are done, or ``stop()``.

    ``on_finished(stats)`` is called once, on the consumer thread, when everything has stopped.

    Consumers are called on the consumer thread, in the order frames were
    captured for live sources (late results are dropped rather than shown out
    of order) and in completion order otherwise. They must be quick; a GUI
    consumer should only hand the result to its own thread.
    """

    def __init__(
        self,
        source: FrameSource,
        sessions: Sequence[SegmentationSession],
        *,
        workers: int | None = None,
        max_frames: int | None = None,
        consumers: Sequence[Consumer] = (),
        on_finished: Callable[[PipelineStats], None] | None = None,
    ) -> None:
        if not sessions:
            raise ValueError("a pipeline needs at least one session")
        self.source = source
        self.sessions = list(sessions)
        self.workers = workers or default_workers()
        self.max_frames = max_frames
        self.stats = PipelineStats()
        self._consumers: list[Consumer] = list(consumers)
        self._on_finished = on_finished
        live = source.is_live
        self._frames: Channel[Frame] = Channel(1 if live else self.workers, newest_wins=live)
        self._results: Channel[FrameResults] = Channel(max(4, 2 * self.workers), newest_wins=live)
        self._stop = threading.Event()
        self._finished = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._workers_left = self.workers
        self._last_delivered = -1

    # -- control (any thread) -------------------------------------------------

    def add_consumer(self, consumer: Consumer) -> None:
        """Safe while running: the consumer thread iterates over a snapshot of the list."""
        self._consumers = [*self._consumers, consumer]

    def remove_consumer(self, consumer: Consumer) -> None:
        self._consumers = [c for c in self._consumers if c is not consumer]

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._capture_loop, name="segview-capture", daemon=True)]
        self._threads += [threading.Thread(target=self._worker_loop, args=(i,), name=f"segview-worker-{i}", daemon=True) for i in range(self.workers)]
        self._threads.append(threading.Thread(target=self._consumer_loop, name="segview-consumer", daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Ask every thread to finish soon; frames in flight are abandoned."""
        self._stop.set()
        self._frames.close(discard=True)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the pipeline has finished; True if it has."""
        return self._finished.wait(timeout)

    def join(self, timeout: float = 5.0) -> None:
        self.stop()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    @property
    def frames_dropped(self) -> int:
        """Dropped so far (live sources); final once finished."""
        return self._frames.dropped + self._results.dropped

    @property
    def frames_waited_for(self) -> int:
        """How often a worker found no frame ready and waited for the source (0 while the models are the bottleneck)."""
        return self._frames.waits

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    @property
    def problem(self) -> str | None:
        return self.stats.problems[0] if self.stats.problems else None

    def run(self) -> PipelineStats:
        """Start, wait for the end, and return the stats (for batch use)."""
        self.start()
        try:
            self.wait()
        finally:
            self.join()
        return self.stats

    # -- threads --------------------------------------------------------------

    def _capture_loop(self) -> None:
        try:
            while not self._stop.is_set():
                if self.max_frames is not None and self.stats.frames_captured >= self.max_frames and not self.source.is_live:
                    break
                frame = self.source.read()
                if frame is None:
                    problem = getattr(self.source, "problem", None)
                    if problem:
                        self._report(problem)
                    break
                self.stats.frames_captured += 1
                if not self._frames.put(frame):
                    break
        except SegviewError as exc:
            self._report(str(exc))
        except Exception as exc:  # a broken driver must not leave the pipeline hanging
            self._report(f"{self.source.name} failed: {exc}")
        finally:
            self._frames.close()

    def _worker_loop(self, worker: int) -> None:
        if self.workers <= (os.cpu_count() or 1) and os.environ.get("SEGVIEW_PIN_WORKERS", "1") != "0":
            _pin_to_core(worker)
        try:
            while True:
                try:
                    frame = self._frames.get()
                except Closed:
                    break
                picked_at = time.perf_counter()
                results = tuple(self._segment(session, frame, picked_at) for session in self.sessions)
                bundle = FrameResults(frame, results, time.perf_counter(), worker)
                if not self._results.put(bundle):
                    break
                if self._count_processed():
                    self.stop()
        except SegviewError as exc:
            self._report(str(exc))
            self.stop()
        except Exception as exc:  # a worker that dies must never look like a clean end
            self._report(f"a worker failed: {first_line(exc)}")
            self.stop()
        finally:
            with self._lock:
                self._workers_left -= 1
                last = self._workers_left == 0
            if last:
                self._results.close()

    def _segment(self, session: SegmentationSession, frame: Frame, picked_at: float) -> SegmentationResult:
        try:
            out = session.segment(frame.image)
        except SegviewError:
            raise
        except Exception as exc:  # cv2.error, numpy errors...: name the model whose frame failed
            raise ModelError(f"{session.name} failed on frame {frame.index}: {type(exc).__name__}: {first_line(exc)}") from None
        timings = StageTimings(
            capture_ms=frame.capture_ms,
            queue_ms=(picked_at - frame.captured_at) * 1e3,
            preprocess_ms=out.preprocess_ms,
            inference_ms=out.inference_ms,
            postprocess_ms=out.postprocess_ms,
            end_to_end_ms=(time.perf_counter() - frame.captured_at) * 1e3 + frame.capture_ms,
        )
        return SegmentationResult(session.name, frame, out.mask, timings, out.probability)

    def _count_processed(self) -> bool:
        """Count one processed frame; True when ``max_frames`` is reached."""
        with self._lock:
            self.stats.frames_processed += 1
            return self.max_frames is not None and self.stats.frames_processed >= self.max_frames

    def _consumer_loop(self) -> None:
        try:
            while True:
                try:
                    bundle = self._results.get()
                except Closed:
                    break
                if self.source.is_live and bundle.frame.index < self._last_delivered:
                    self.stats.results_late += 1
                    continue
                self._last_delivered = bundle.frame.index
                for consumer in self._consumers:
                    consumer(bundle)
        except Exception as exc:
            self._report(f"a consumer failed: {exc}")
            self.stop()
            # Nobody reads results any more: release workers blocked on a full channel.
            self._results.close(discard=True)
        finally:
            self.stats.frames_dropped = self.frames_dropped
            self._finished.set()
            if self._on_finished is not None:
                self._on_finished(self.stats)

    def _report(self, problem: str) -> None:
        with self._lock:
            self.stats.problems.append(problem)


def _serial_opencv() -> None:
    """OpenCV runs each call on the thread that makes it, with no thread pool of its own.

    The workers already keep every core busy (and onnxruntime shares the cores out
    between them); OpenCV's pool only added threads that spin in sched_yield waiting
    for the next resize (perf here: 0.8% of the two cores in bench, 1.3% in the studio)
    and split 640x480 resizes into pieces worth less than their hand-over. Measured:
    `segview bench` 1.03-1.04x (medians of two runs of 5-6 alternating rounds against
    SEGVIEW_SERIAL_OPENCV=0; benchmarks/README.md). The setting is process-wide; where one
    thread works alone (a photo's resize in eval, say) it costs a millisecond or two beside
    the model, which onnxruntime runs on every core anyway.
    """
    if os.environ.get("SEGVIEW_SERIAL_OPENCV", "1") != "0":
        cv2.setNumThreads(1)


# Once, when the pipeline is first imported: before any thread of ours runs OpenCV, as changing
# OpenCV's pool while another thread is inside one of its parallel calls is not safe.
_serial_opencv()


def _pin_to_core(index: int) -> None:
    """Keep a worker on one core so the model's weights and buffers stay in that core's cache.

    The model is memory-bound: measured here, pinning the two workers gave 2.8% more
    FPS (median of 4 alternating runs, 375 vs 365). SEGVIEW_PIN_WORKERS=0 turns it off.
    """
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cores) > 1:
        os.sched_setaffinity(0, {cores[index % len(cores)]})
