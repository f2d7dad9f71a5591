"""SessionControl: the studio's model layer, without Qt (source and model choice, pipeline lifecycle, compositing).

Threads: the pipeline's own (capture, workers, consumer) do all the work,
including composing overlays in :meth:`_on_bundle` (consumer thread). The
controlling thread (the studio's GUI thread) only calls the public methods and
takes pictures with :meth:`take_new_picture`. A picture is composed only when
the previous one was taken, so a slow screen never slows the models down, and,
while the models are the bottleneck, only as often as the PicturePacer allows.

The Qt studio (``segview.ui.engine.StudioEngine``) adapts this class to
signals by overriding the three ``_notify``/``_hand_over`` hooks and
``_prepare_screen``; used on its own (tests, scripts) it needs no display:
a finished pipeline waits in a queue until the controlling thread calls
:meth:`poll`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from segview.errors import SegviewError
from segview.inference.postprocess import THRESHOLD, binary_mask, clamp_threshold
from segview.inference.registry import ModelEntry, ModelRegistry
from segview.inference.session import SegmentationSession, SessionOptions
from segview.metrics.iou import binary_iou
from segview.metrics.live import LiveStats
from segview.pipeline.frame_pictures import MAX_VIEWS, RenderedFrame, compose_frame
from segview.pipeline.picture_pacing import PicturePacer
from segview.pipeline.pipeline import FrameResults, Pipeline, PipelineStats, default_workers, threads_per_session
from segview.render.overlay import MaskSmoother, OverlaySettings
from segview.sources.base import FrameSource
from segview.sources.spec import SourceSpec, open_source, parse_source


def studio_source_spec(text: str) -> SourceSpec:
    """The spec the studio opens for ``text``: recordings play at their own speed unless asked otherwise."""
    spec = parse_source(text)
    if spec.scheme in ("file", "demo", "folder") and "realtime" not in spec.options and "fps" not in spec.options:
        key = "fps" if spec.scheme == "folder" else "realtime"
        spec = SourceSpec(spec.scheme, spec.target, {**spec.options, key: "10" if key == "fps" else "1"})
    return spec


class SessionControl:
    def __init__(self, registry: ModelRegistry, *, workers: int | None = None, provider: str = "cpu") -> None:
        super().__init__()  # cooperative: in the studio the next class is QObject (see ui.engine)
        self.registry = registry
        self.workers = workers or default_workers()
        self.provider = provider
        self.live = LiveStats()
        self.source_spec: SourceSpec | None = None
        # The source as the user named it (the spec may carry options the studio added).
        self.source_name: str | None = None
        self.models: list[ModelEntry] = []
        # The names of the binary models among them (replaced whole, read by the consumer thread).
        self._binary_models: frozenset[str] = frozenset()
        self.overlay = OverlaySettings()
        # Settings the consumer thread reads once per frame are replaced whole by the controlling
        # thread, never mutated: a float, a tuple, a dict of smoothers (see set_smoothing).
        self.smoothing = 0.0
        # Where the overlay cuts probability into mask (binary models).
        self.mask_threshold = THRESHOLD
        # Called on the consumer thread with (RenderedFrame, perf_counter time) for each composed
        # picture (video recording).
        self._picture_taps: tuple[Callable[[RenderedFrame, float], None], ...] = ()
        self.compare_pair: tuple[int, int] | None = None
        # (w, h) of the screens pictures go to: one per view, then the comparison view. Set by
        # the window; pictures are prepared at these sizes on the consumer thread.
        self.screen_sizes: tuple[tuple[int, int], ...] = ()
        self.problem: str | None = None
        # The source came to its end (a file played through): not a fault, but nothing more to show.
        self.source_ended = False
        self._source: FrameSource | None = None
        # What the last source passed over (unreadable images), kept after it is closed.
        self._source_warnings: list[str] = []
        self._sessions: dict[Path, SegmentationSession] = {}
        self._pipeline: Pipeline | None = None
        self._smoothers: dict[str, MaskSmoother] = {}
        self._extra_consumers: list[Callable[[FrameResults], None]] = []
        self._lock = threading.Lock()
        self._latest: RenderedFrame | None = None
        self._picture_pending = False
        # The running pipeline with its pacer (replaced whole), and the last frame not composed
        # (bundle, masks, pair, iou, threshold, smoothing): it is shown when the pipeline ends.
        self._pacing: tuple[Pipeline | None, PicturePacer] = (None, PicturePacer())
        self._unshown: tuple | None = None
        self._finished: queue.SimpleQueue[PipelineStats] = queue.SimpleQueue()

    # -- hooks (the Qt engine turns them into signals) -------------------------

    def _notify_state_changed(self) -> None:
        """Running, source or models changed (controlling thread)."""

    def _notify_problem(self, problem: str) -> None:
        """A problem to show (controlling thread)."""

    def _hand_over_finished(self, stats: PipelineStats) -> None:
        """Consumer thread: bring a finished pipeline's stats to the controlling thread, which must
        then call :meth:`pipeline_finished`. Here they wait for :meth:`poll`."""
        self._finished.put(stats)

    def _prepare_screen(self, picture: np.ndarray, size: tuple[int, int]) -> Any:
        """Consumer thread: the picture as its screen of ``size`` wants it (None: the screen converts it)."""
        return None

    # -- configuration (controlling thread) ------------------------------------

    def set_source(self, text: str) -> None:
        """Open a new source (raises SegviewError); the running state is kept."""
        spec = studio_source_spec(text)
        # Open the new source before letting go of the old one: a bad choice changes nothing.
        source = open_source(spec)
        was_running = self.running
        self._stop_pipeline()
        self._close_source()
        self._source = source
        self._source_warnings = []
        self.source_spec = spec
        self.source_name = text
        self.live.reset()
        self._set_problem(None)
        if was_running or self.models:
            self.play()
        self._notify_state_changed()

    def set_models(self, references: list[str]) -> None:
        """Select up to four models (raises SegviewError); sessions are loaded once and kept."""
        if len(references) > MAX_VIEWS:
            raise SegviewError(f"at most {MAX_VIEWS} models at once")
        entries = [self.registry.resolve(r) for r in references]
        threads = threads_per_session(self.workers)
        for entry in entries:
            if entry.path not in self._sessions:
                options = SessionOptions(provider=self.provider, threads=threads)
                self._sessions[entry.path] = SegmentationSession(entry.path, entry.card, options)
        was_running = self.running
        self._stop_pipeline()
        self.models = entries
        self._binary_models = frozenset(e.name for e in entries if e.card.is_binary)
        self._smoothers = self._new_smoothers(self.smoothing)
        if self.compare_pair and max(self.compare_pair) >= len(entries):
            self.compare_pair = None
        self.live.keep_only([e.name for e in entries])
        if was_running:
            self.play()
        self._notify_state_changed()

    def set_overlay(self, settings: OverlaySettings) -> None:
        self.overlay = settings

    def set_smoothing(self, strength: float) -> None:
        # New smoothers, swapped in whole: the consumer thread may be inside the old ones right now,
        # and resetting those under it would tear a frame's average.
        self._smoothers = self._new_smoothers(strength)
        self.smoothing = strength

    def set_mask_threshold(self, value: float) -> None:
        self.mask_threshold = clamp_threshold(value)

    def set_compare_pair(self, pair: tuple[int, int] | None) -> None:
        self.compare_pair = pair if pair and pair[0] != pair[1] else None

    def add_picture_tap(self, tap: Callable[[RenderedFrame, float], None]) -> None:
        """``tap(picture, t)`` runs on the consumer thread for each composed picture: it must only hand it on."""
        self._picture_taps = (*self._picture_taps, tap)

    def remove_picture_tap(self, tap: Callable[[RenderedFrame, float], None]) -> None:
        self._picture_taps = tuple(t for t in self._picture_taps if t is not tap)

    def add_consumer(self, consumer: Callable[[FrameResults], None]) -> None:
        """Extra pipeline consumers (the recorder); they run on the consumer thread."""
        self._extra_consumers.append(consumer)
        if self._pipeline is not None:
            self._pipeline.add_consumer(consumer)

    def remove_consumer(self, consumer: Callable[[FrameResults], None]) -> None:
        self._extra_consumers = [c for c in self._extra_consumers if c is not consumer]
        if self._pipeline is not None:
            self._pipeline.remove_consumer(consumer)

    # -- running (controlling thread) ------------------------------------------

    @property
    def running(self) -> bool:
        return self._pipeline is not None and not self._pipeline.finished

    def play(self) -> None:
        if self.running or not self.models:
            return
        if self._source is None:
            if self.source_spec is None:
                return
            self._source = open_source(self.source_spec)
        self.source_ended = False
        sessions = [self._sessions[e.path] for e in self.models]
        self._pipeline = Pipeline(
            self._source,
            sessions,
            workers=self.workers,
            consumers=[self._on_bundle, *self._extra_consumers],
            on_finished=self._on_pipeline_end,
        )
        self._pacing = (self._pipeline, PicturePacer())
        self._pipeline.start()
        self._notify_state_changed()

    def pause(self) -> None:
        self._stop_pipeline()
        self._notify_state_changed()

    def toggle(self) -> None:
        if self.running:
            self.pause()
        else:
            self.play()

    def shutdown(self) -> None:
        self._stop_pipeline()
        self._close_source()

    def poll(self) -> None:
        """Handle pipelines that finished since the last call (for users without an event loop)."""
        while True:
            try:
                stats = self._finished.get_nowait()
            except queue.Empty:
                return
            self.pipeline_finished(stats)

    def pipeline_finished(self, stats: PipelineStats) -> None:
        """A pipeline ended (controlling thread): its problem, or the source's end, becomes the state."""
        if self._pipeline is not None and self._pipeline.stats is not stats:
            return  # a pipeline we already replaced
        if stats.problems:
            self._set_problem(stats.problems[0])
        elif self._pipeline is not None:
            self.source_ended = True
            self._set_problem(f"{self._source.name if self._source else 'the source'} ended")
        if self._pipeline is not None:
            # The source is spent (a file at its end, a lost camera): reopen it on the next play.
            self._pipeline = None
            self._close_source()
        self._notify_state_changed()

    # -- what is there to show (controlling thread) ----------------------------

    def source_problem(self) -> str | None:
        """What a live source says is wrong while it keeps retrying (a phone unplugged), else None."""
        source = self._source
        return getattr(source, "problem", None) if source is not None and source.is_live else None

    def source_warnings(self) -> list[str]:
        """What the source passed over without failing (polled by the studio)."""
        if self._source is not None:
            self._source_warnings = self._source.warnings()
        return self._source_warnings

    def frames_dropped(self) -> int:
        return self._pipeline.frames_dropped if self._pipeline is not None else 0

    def latest_picture(self) -> RenderedFrame | None:
        """The last composed picture (shown or about to be), for screenshots."""
        with self._lock:
            return self._latest

    def take_new_picture(self) -> RenderedFrame | None:
        """The picture composed since the last call, or None; taking it lets the consumer thread compose the next."""
        with self._lock:
            if not self._picture_pending:
                return None
            picture = self._latest
            self._picture_pending = False
        return picture

    # -- internals --------------------------------------------------------------

    def _new_smoothers(self, strength: float) -> dict[str, MaskSmoother]:
        return {e.name: MaskSmoother(strength) for e in self.models}

    def _stop_pipeline(self) -> None:
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            pipeline.join()

    def _close_source(self) -> None:
        if self._source is not None:
            self._source_warnings = self._source.warnings()
            self._source.close()
            self._source = None

    def _set_problem(self, problem: str | None) -> None:
        self.problem = problem
        if problem:
            self._notify_problem(problem)

    def _on_bundle(self, bundle: FrameResults) -> None:
        """Consumer thread: statistics for every frame, a picture only when the last one was taken.

        Hundreds of frames a second come through here, on cores the workers keep busy, where
        Python runs several times slower than on an idle core (34 us a frame, median, against 3 us
        alone): so each frame gets only what every frame needs, its statistics, and masks only when a
        smoother or the compared pair must see every frame. A frame that is not shown is not thresholded.
        """
        now = bundle.completed_at
        self.live.add_frame(now, bundle.results)
        # One snapshot of what the controlling thread may replace meanwhile.
        threshold, smoothing, pair = self.mask_threshold, self.smoothing, self.compare_pair
        masks = iou = None
        if smoothing > 0 or pair is not None:
            masks = self._masks(bundle, threshold, self._smoothers)
            if pair is not None and max(pair) < len(masks):
                iou = binary_iou(masks[pair[0]], masks[pair[1]])
                self.live.add_iou(now, iou)
        self._unshown = (bundle, masks, pair, iou, threshold, smoothing)
        pipeline, pacer = self._pacing
        # A video being recorded (a picture tap) gets every picture the screen would.
        due = pipeline is None or pacer.due(now, pipeline.stats.frames_processed, pipeline.frames_waited_for) or bool(self._picture_taps)
        with self._lock:
            if self._picture_pending or not due:
                return
        pacer.composed(now)
        self._publish(*self._unshown)

    def _masks(self, bundle: FrameResults, threshold: float, smoothers: dict[str, MaskSmoother]) -> list[np.ndarray]:
        """Each model's mask as shown: cut at ``threshold`` (binary models), through its smoother when smoothing."""
        masks = []
        for result in bundle.results:
            mask, probability = result.mask, result.probability
            if probability is not None and result.model in self._binary_models:
                smoother = smoothers.get(result.model)
                if smoother is not None and smoother.strength > 0:
                    mask, _ = smoother(probability, bundle.frame.size, threshold)
                elif threshold != THRESHOLD:
                    mask = binary_mask(probability, bundle.frame.size, threshold)
            masks.append(mask)
        return masks

    def _publish(
        self, bundle: FrameResults, masks: list[np.ndarray] | None, pair: tuple[int, int] | None, iou: float | None, threshold: float, smoothing: float
    ) -> None:
        """Consumer thread: compose ``bundle``'s picture and make it the one to take.

        ``masks`` is None when the frame did not need them before (no smoothing, no pair): they are
        cut now, without smoothers, as none was on for this frame.
        """
        self._unshown = None
        if masks is None:
            masks = self._masks(bundle, threshold, {})
        cards = {e.name: e.card for e in self.models}
        picture = compose_frame(
            bundle, masks, pair, iou, threshold, smoothing, overlay=self.overlay, cards=cards, screens=self.screen_sizes, prepare_screen=self._prepare_screen
        )
        with self._lock:
            self._latest = picture
            self._picture_pending = True
        for tap in self._picture_taps:
            tap(picture, bundle.completed_at)

    def _on_pipeline_end(self, stats: PipelineStats) -> None:
        """Consumer thread, once: the last frame is shown though pacing passed over it (a file's end, a pause)."""
        try:
            if self._unshown is not None:
                self._publish(*self._unshown)
        finally:
            self._hand_over_finished(stats)
