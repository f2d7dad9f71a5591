"""Benchmarking models on a live or recorded source through the real pipeline (``segview bench``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from segview.inference.registry import ModelRegistry
from segview.inference.session import SegmentationSession, SessionOptions
from segview.metrics.process import ProcessSampler, ProcessUsage, machine_info
from segview.metrics.stats import rounded
from segview.pipeline.pipeline import (
    FrameResults,
    Pipeline,
    default_workers,
    threads_per_session,
)
from segview.recording.session_file import (
    TIMING_COLUMNS,
    FrameRows,
    ModelSummary,
    summarise_model,
)
from segview.sources.spec import SourceSpec, open_source, parse_source
from segview.types import StageTimings

# (done, total): measured frames, or measured seconds with a duration; warm-up is not counted.
Progress = Callable[[float, float], None]


@dataclass(frozen=True, slots=True)
class BenchOptions:
    """``frames`` or ``duration_s`` bounds each measurement (after ``warmup`` frames); ``rounds``: --sequential."""

    source: str
    models: Sequence[str]
    frames: int = 300
    warmup: int = 20
    provider: str = "cpu"
    workers: int | None = None
    threads: int | None = None
    duration_s: float | None = None
    rounds: int = 5

    @property
    def per_run_total(self) -> float:
        """What one measurement counts to on the progress bar: seconds or frames."""
        return self.duration_s if self.duration_s is not None else float(self.frames)

    @property
    def length_setting(self) -> dict[str, float]:
        """How each measurement is bounded, as a report's settings name it."""
        return {"duration_s": self.duration_s} if self.duration_s is not None else {"frames": self.frames}


@dataclass(frozen=True, slots=True)
class BenchReport:
    source: str
    source_fps: float | None
    models: list[ModelSummary]
    frames_dropped: int
    usage: ProcessUsage
    settings: dict[str, object]
    machine: dict[str, object] = field(default_factory=machine_info)
    problem: str | None = None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "mode": "shared",
            "models": [{"model": m.model, **m.as_dict()} for m in self.models],
            "source": {"name": self.source, "fps": self.source_fps},
            "frames_dropped": self.frames_dropped,
            "process": {"cpu_percent": rounded(self.usage.cpu_percent), "peak_rss_mb": rounded(self.usage.peak_rss_mb)},
            "settings": self.settings,
            "machine": self.machine,
            "problem": self.problem,
            "warnings": self.warnings,
        }

    def measured_anything(self) -> bool:
        """A rate needs two frames; with fewer, every figure would print as nan."""
        return any(m.frames >= 2 for m in self.models)


class _Collector:
    """Pipeline consumer: keeps per-model rows after the warm-up frames (consumer thread).

    With ``duration_s`` the clock starts at the first measured frame and the
    pipeline is stopped once that long has been measured."""

    def __init__(self, model_names: Sequence[str], options: BenchOptions, progress: Progress | None) -> None:
        self.warmup = options.warmup
        self.duration_s = options.duration_s
        self.total = options.per_run_total
        self.progress = progress
        self.stop: Callable[[], None] = lambda: None  # the pipeline's, once it exists
        self.seen = 0
        self.started_at: float | None = None
        self.done = False
        self.rows: dict[str, list[tuple[int, float, StageTimings]]] = {name: [] for name in model_names}

    def __call__(self, bundle: FrameResults) -> None:
        self.seen += 1
        if self.seen <= self.warmup or self.done:
            return
        for result in bundle.results:
            self.rows[result.model].append((bundle.frame.index, bundle.completed_at, result.timings))
        if self.duration_s is None:
            done = float(self.seen - self.warmup)
        else:
            self.started_at = bundle.completed_at if self.started_at is None else self.started_at
            done = min(self.duration_s, bundle.completed_at - self.started_at)
        if done >= self.total:
            self.done = True
            self.stop()
        if self.progress is not None:
            self.progress(done, self.total)

    def frame_rows(self, model: str) -> FrameRows:
        rows = self.rows[model]
        return FrameRows.from_lists(
            [index for index, _, _ in rows],
            [t for _, t, _ in rows],
            {column: [getattr(timings, column) for _, _, timings in rows] for column in TIMING_COLUMNS},
        )


@dataclass(slots=True)
class Prepared:
    """Everything opened before any work, so bad input fails first."""

    sessions: list[SegmentationSession]
    spec: SourceSpec
    workers: int
    threads: int

    def settings(self, options: BenchOptions) -> dict[str, object]:
        return {
            "workers": self.workers,
            "threads_per_run": self.threads,
            "provider": self.sessions[0].provider,
            "warmup_frames": options.warmup,
            **options.length_setting,
        }


@dataclass(frozen=True, slots=True)
class Measurement:
    """One pipeline run over a freshly opened source."""

    source: str
    source_fps: float | None
    models: list[ModelSummary]
    frames_dropped: int
    problem: str | None
    warnings: list[str] = field(default_factory=list)


def prepare(options: BenchOptions, registry: ModelRegistry) -> Prepared:
    entries = [registry.resolve(ref) for ref in options.models]
    workers = options.workers or default_workers()
    threads = options.threads or threads_per_session(workers)
    session_options = SessionOptions(provider=options.provider, threads=threads)
    sessions = [SegmentationSession(e.path, e.card, session_options) for e in entries]
    return Prepared(sessions, parse_source(options.source), workers, threads)


def measure(prepared: Prepared, sessions: Sequence[SegmentationSession], options: BenchOptions, progress: Progress | None) -> Measurement:
    """Run ``sessions`` together on the source (opened here, closed after) for the warm-up and one measurement."""
    spec = prepared.spec
    # A short recorded clip is looped so the benchmark reaches its frame count or duration.
    overrides = {"loop": "1"} if spec.scheme in ("file", "demo", "folder") and "loop" not in spec.options else {}
    source = open_source(spec, **overrides)
    collector = _Collector([s.name for s in sessions], options, progress)
    frames = None if options.duration_s is not None else options.warmup + options.frames
    pipeline = Pipeline(source, sessions, workers=prepared.workers, max_frames=frames, consumers=[collector])
    collector.stop = pipeline.stop
    try:
        stats = pipeline.run()
    finally:
        source.close()
    models = [summarise_model(name, collector.frame_rows(name)) for name in collector.rows]
    return Measurement(source.name, source.nominal_fps, models, stats.frames_dropped, pipeline.problem, source.warnings())


def run_bench(options: BenchOptions, registry: ModelRegistry, progress: Progress | None = None) -> BenchReport:
    """Every model on each frame, in one pipeline: the figures are the pipeline's (see bench_rounds for which is faster)."""
    prepared = prepare(options, registry)
    sampler = ProcessSampler()
    sampler.start()
    try:
        run = measure(prepared, prepared.sessions, options, progress)
    finally:
        usage = sampler.stop()
    return BenchReport(
        source=run.source,
        source_fps=run.source_fps,
        models=run.models,
        frames_dropped=run.frames_dropped,
        usage=usage,
        settings=prepared.settings(options),
        problem=run.problem,
        warnings=run.warnings,
    )
