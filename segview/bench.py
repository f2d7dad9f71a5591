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
from segview.sources.spec import open_source, parse_source
from segview.types import StageTimings

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class BenchOptions:
    source: str
    models: Sequence[str]
    frames: int = 300
    warmup: int = 20
    provider: str = "cpu"
    workers: int | None = None
    threads: int | None = None


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

    def as_dict(self) -> dict[str, object]:
        return {
            "models": [{"model": m.model, **m.as_dict()} for m in self.models],
            "source": {"name": self.source, "fps": self.source_fps},
            "frames_dropped": self.frames_dropped,
            "process": {"cpu_percent": rounded(self.usage.cpu_percent), "peak_rss_mb": rounded(self.usage.peak_rss_mb)},
            "settings": self.settings,
            "machine": self.machine,
            "problem": self.problem,
        }


class _Collector:
    """Pipeline consumer: keeps per-model rows after the warm-up frames (consumer thread)."""

    def __init__(self, model_names: Sequence[str], warmup: int, total: int, progress: Progress | None) -> None:
        self.warmup = warmup
        self.total = total
        self.progress = progress
        self.seen = 0
        self.rows: dict[str, list[tuple[int, float, StageTimings]]] = {name: [] for name in model_names}

    def __call__(self, bundle: FrameResults) -> None:
        self.seen += 1
        if self.seen > self.warmup:
            for result in bundle.results:
                self.rows[result.model].append((bundle.frame.index, bundle.completed_at, result.timings))
        if self.progress is not None:
            self.progress(self.seen, self.total)

    def frame_rows(self, model: str) -> FrameRows:
        rows = self.rows[model]
        return FrameRows.from_lists(
            [index for index, _, _ in rows],
            [t for _, t, _ in rows],
            {column: [getattr(timings, column) for _, _, timings in rows] for column in TIMING_COLUMNS},
        )


def run_bench(options: BenchOptions, registry: ModelRegistry, progress: Progress | None = None) -> BenchReport:
    """Open everything first (so bad input fails before any work), then run the pipeline."""
    entries = [registry.resolve(ref) for ref in options.models]
    workers = options.workers or default_workers()
    threads = options.threads or threads_per_session(workers)
    session_options = SessionOptions(provider=options.provider, threads=threads)
    sessions = [SegmentationSession(e.path, e.card, session_options) for e in entries]
    spec = parse_source(options.source)
    # A short recorded clip is looped so the benchmark reaches its frame count.
    overrides = {"loop": "1"} if spec.scheme in ("file", "demo", "folder") and "loop" not in spec.options else {}
    source = open_source(spec, **overrides)
    total = options.warmup + options.frames
    collector = _Collector([s.name for s in sessions], options.warmup, total, progress)
    pipeline = Pipeline(source, sessions, workers=workers, max_frames=total, consumers=[collector])
    sampler = ProcessSampler()
    sampler.start()
    try:
        stats = pipeline.run()
    finally:
        usage = sampler.stop()
        source.close()
    models = [summarise_model(name, collector.frame_rows(name)) for name in collector.rows]
    settings = {"workers": workers, "threads_per_run": threads, "provider": sessions[0].provider, "warmup_frames": options.warmup}
    return BenchReport(
        source=source.name,
        source_fps=source.nominal_fps,
        models=models,
        frames_dropped=stats.frames_dropped,
        usage=usage,
        settings=settings,
        problem=pipeline.problem,
    )
