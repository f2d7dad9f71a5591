"""``segview bench --threads 1,2 --workers 1,2 --provider cpu --engine ort,openvino,litert``: which
setting is fastest for each model on this machine.

Each setting (engine x provider x workers x threads) runs each model alone on a freshly opened
source, as ``--sequential`` does (segview.bench.measure); the settings' order alternates across
rounds (ABC, CBA, ABC, ...) so drift falls on all of them, and each is summarised by its median FPS
across rounds, compared with the best median.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from segview.bench import BenchOptions, Measurement, Prepared, Progress, measure
from segview.bench_rounds import round_order, shifted_progress
from segview.errors import ModelError
from segview.inference.engines import Engine, get_engine
from segview.inference.litert_engine import is_tflite, onnx_twin, tflite_entry, tflite_twin
from segview.inference.registry import ModelEntry, ModelRegistry
from segview.metrics.process import machine_info
from segview.metrics.stats import rounded
from segview.pipeline.pipeline import default_workers, threads_per_session
from segview.sources.spec import parse_source


@dataclass(frozen=True, slots=True)
class Setting:
    """One cell of the grid; ``threads`` None: the pipeline's default (cores / workers)."""

    engine: str
    provider: str
    workers: int
    threads: int | None

    def label(self, threads_used: int) -> str:
        threads = f"{threads_used}" if self.threads else f"{threads_used} (default)"
        return f"{self.engine} {self.provider} {self.workers} worker(s) x {threads} thread(s)"


def sweep_grid(engines: Sequence[str], providers: Sequence[str], workers: Sequence[int | None], threads: Sequence[int | None]) -> list[Setting]:
    return [Setting(e, p, w or default_workers(), t) for e, p, w, t in itertools.product(engines, providers, workers, threads)]


@dataclass(slots=True)
class SweepReport:
    source: str
    source_fps: float | None
    models: list[str]
    grid: list[Setting]
    threads_used: list[int]
    # fps[model][cell]: one figure per round in which that cell ran.
    fps: dict[str, list[list[float]]]
    orders: list[list[int]]
    frames: dict[str, list[list[int]]]
    settings: dict[str, object]
    machine: dict[str, object] = field(default_factory=machine_info)
    problem: str | None = None
    warnings: list[str] = field(default_factory=list)

    def median_fps(self, model: str, cell: int) -> float:
        values = [v for v in self.fps[model][cell] if not math.isnan(v)]
        return statistics.median(values) if values else math.nan

    def fastest(self, model: str) -> int | None:
        """The cell with the highest median FPS for ``model`` (None if nothing was measured)."""
        medians = [(self.median_fps(model, i), i) for i in range(len(self.grid))]
        measured = [(m, i) for m, i in medians if not math.isnan(m)]
        return max(measured)[1] if measured else None

    def measured_anything(self) -> bool:
        return any(self.fastest(m) is not None for m in self.models)

    def label(self, cell: int) -> str:
        return self.grid[cell].label(self.threads_used[cell])

    def as_dict(self) -> dict[str, object]:
        models = []
        for m in self.models:
            best = self.fastest(m)
            best_fps = self.median_fps(m, best) if best is not None else math.nan
            cells = [
                {
                    "engine": s.engine,
                    "provider": s.provider,
                    "workers": s.workers,
                    "threads": self.threads_used[i],
                    "threads_default": s.threads is None,
                    "fps_per_round": [rounded(v) for v in self.fps[m][i]],
                    "frames_per_round": self.frames[m][i],
                    "fps_median": rounded(self.median_fps(m, i)),
                    "ratio_to_best": rounded(self.median_fps(m, i) / best_fps),
                }
                for i, s in enumerate(self.grid)
            ]
            models.append({"model": m, "cells": cells, "fastest": None if best is None else self.label(best)})
        return {
            "mode": "sweep",
            "source": {"name": self.source, "fps": self.source_fps},
            "models": models,
            "round_orders": self.orders,
            "settings": self.settings,
            "machine": self.machine,
            "problem": self.problem,
            "warnings": self.warnings,
        }


def _prepare_cells(options: BenchOptions, grid: list[Setting], registry: ModelRegistry) -> tuple[list[Prepared], list[ModelEntry], list[str]]:
    """Every session of every cell opened before any run, so a bad model, provider or engine fails first.

    A model is named by what the user gave (a ``.tflite`` file or an ONNX model); an engine that reads
    the other format runs that network's twin (litert_engine.onnx_twin / tflite_twin), and says so.
    """
    entries = [tflite_entry(Path(ref), registry) if is_tflite(ref) else registry.resolve(ref) for ref in options.models]
    spec = parse_source(options.source)
    cells: list[Prepared] = []
    notes: list[str] = []
    for s in grid:
        engine = get_engine(s.engine)
        threads = s.threads or threads_per_session(s.workers)
        sessions = []
        for entry in entries:
            runs = _file_for(engine, entry, registry)
            if runs.path != entry.path and not any(n.startswith(f"{engine.name} runs {runs.path.name} ") for n in notes):
                notes.append(f"{engine.name} runs {runs.path.name} for {entry.name} (the same network in the format it reads)")
            sessions.append(engine.make_session(runs.path, runs.card, threads, s.provider))
        cells.append(Prepared(sessions, spec, s.workers, threads))
    return cells, entries, notes


def _file_for(engine: Engine, entry: ModelEntry, registry: ModelRegistry) -> ModelEntry:
    """The model file ``engine`` runs for ``entry``: the entry itself, or its twin in the engine's format."""
    if entry.path.suffix.lower() == engine.model_suffix:
        return entry
    if is_tflite(entry.path):
        twin = onnx_twin(entry.path, registry)
        if twin is None:
            raise ModelError(
                f"{engine.name} reads ONNX models and no ONNX conversion of {entry.path.name} is known "
                f"(put {entry.path.stem}.onnx beside it, or sweep --engine litert alone)"
            )
        return twin
    tflite = tflite_twin(entry)
    if tflite is None:
        raise ModelError(
            f"{engine.name} reads .tflite models and {entry.name} is ONNX: give its .tflite with --model "
            f"(or put {entry.path.stem}.tflite beside {entry.path.name})"
        )
    return tflite_entry(tflite, registry)


def run_sweep(options: BenchOptions, grid: list[Setting], registry: ModelRegistry, progress: Progress | None = None) -> SweepReport:
    cells, entries, notes = _prepare_cells(options, grid, registry)
    names = [e.name for e in entries]  # the models as given: a twin run by another engine reports under its network's name
    fps: dict[str, list[list[float]]] = {n: [[] for _ in grid] for n in names}
    frames: dict[str, list[list[int]]] = {n: [[] for _ in grid] for n in names}
    runs_total = options.rounds * len(grid) * len(names)
    total, done = runs_total * options.per_run_total, 0
    orders: list[list[int]] = []
    first: Measurement | None = None
    problem: str | None = None
    for number in range(1, options.rounds + 1):
        order = round_order(range(len(grid)), number)
        orders.append(order)
        for cell in order:
            for model in round_order(range(len(names)), number):  # each cell's models alternate too
                session = cells[cell].sessions[model]
                run = measure(cells[cell], [session], options, shifted_progress(progress, done * options.per_run_total, total))
                done += 1
                first = first or run
                fps[names[model]][cell].append(run.models[0].fps)
                frames[names[model]][cell].append(run.models[0].frames)
                problem = run.problem
                if problem:
                    break
            if problem:
                break
        if problem:
            break
    # The CLI refuses --rounds below 1, an empty grid and a bench without models, so the first cell measured something.
    assert first is not None, "no run: rounds < 1, no cells or no models"
    settings: dict[str, object] = {"rounds": options.rounds, "warmup_frames": options.warmup, "sweep": True, **options.length_setting}
    return SweepReport(
        first.source,
        first.source_fps,
        names,
        grid,
        [c.threads for c in cells],
        fps,
        orders,
        frames,
        settings,
        problem=problem,
        warnings=[*notes, *first.warnings],
    )
