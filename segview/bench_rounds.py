"""``segview bench --sequential``: which model is faster, and by how much.

In one pipeline every model runs on every frame, so all show the pipeline's FPS.
Here each model runs alone on the same source, in turn, for several rounds; the
order alternates (AB, BA, AB, ...) so that drift (a warming CPU, a neighbour
process) falls on both. Each figure is summarised across rounds as mean ± σ and
min … max, and each model is compared with the fastest the way hyperfine does:
"A ran 1.79 ± 0.05 times faster than B", where the ratio is the quotient of the
two mean FPS and σ is propagated from the two models' σ (see :class:`Comparison`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from segview.bench import BenchOptions, Measurement, Progress, measure, prepare
from segview.inference.registry import ModelRegistry
from segview.metrics.process import machine_info
from segview.metrics.stats import rounded
from segview.recording.session_file import ModelSummary

SD_METHOD = "ratio of the mean FPS; sigma = ratio * sqrt((sd_a/mean_a)^2 + (sd_b/mean_b)^2), as hyperfine"


@dataclass(frozen=True, slots=True)
class Spread:
    """mean ± σ (sample standard deviation; nan with one value) and min … max of per-round figures."""

    mean: float
    sd: float
    low: float
    high: float
    count: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        values = [v for v in values if not math.isnan(v)]
        if not values:
            return cls(math.nan, math.nan, math.nan, math.nan, 0)
        sd = statistics.stdev(values) if len(values) > 1 else math.nan
        return cls(statistics.fmean(values), sd, min(values), max(values), len(values))

    def as_dict(self) -> dict[str, object]:
        return {"mean": rounded(self.mean), "sd": rounded(self.sd), "min": rounded(self.low), "max": rounded(self.high), "rounds": self.count}


@dataclass(frozen=True, slots=True)
class Comparison:
    """``faster`` ran ``ratio`` ± ``sd`` times faster than ``slower``; ``per_round`` are the paired quotients."""

    faster: str
    slower: str
    ratio: float
    sd: float
    per_round: list[float]

    @classmethod
    def of(cls, faster: str, a: Spread, slower: str, b: Spread, per_round: list[float]) -> Comparison:
        ratio = a.mean / b.mean
        sd = ratio * math.sqrt((a.sd / a.mean) ** 2 + (b.sd / b.mean) ** 2)
        return cls(faster, slower, ratio, sd, per_round)

    def as_dict(self) -> dict[str, object]:
        return {
            "faster": self.faster,
            "slower": self.slower,
            "ratio": rounded(self.ratio),
            "sd": rounded(self.sd),
            "per_round": [rounded(r) for r in self.per_round],
        }


@dataclass(slots=True)
class Round:
    """One round: each model alone, in ``order``; ``runs`` fills as the round goes."""

    number: int
    order: list[str]
    runs: dict[str, ModelSummary]

    def as_dict(self) -> dict[str, object]:
        return {"round": self.number, "order": self.order, "runs": [{"model": name, **self.runs[name].as_dict()} for name in self.order]}


@dataclass(frozen=True, slots=True)
class SequentialReport:
    source: str
    source_fps: float | None
    models: list[str]
    rounds: list[Round]
    settings: dict[str, object]
    machine: dict[str, object] = field(default_factory=machine_info)
    problem: str | None = None
    warnings: list[str] = field(default_factory=list)

    def per_round(self, model: str, figure: str) -> list[float]:
        """``fps``, ``latency`` (median end to end, ms) or ``inference`` (median, ms) of each complete round."""
        pick = {"fps": lambda m: m.fps, "latency": lambda m: m.latency_ms.p50, "inference": lambda m: m.inference_ms.p50}[figure]
        return [pick(r.runs[model]) for r in self.complete_rounds]

    @property
    def complete_rounds(self) -> list[Round]:
        return [r for r in self.rounds if len(r.runs) == len(self.models)]

    def spread(self, model: str, figure: str) -> Spread:
        return Spread.of(self.per_round(model, figure))

    def comparisons(self) -> list[Comparison]:
        """Each other model against the fastest (highest mean FPS), fastest first."""
        fps = {m: self.spread(m, "fps") for m in self.models}
        ranked = sorted((m for m in self.models if fps[m].count), key=lambda m: -fps[m].mean)
        if len(ranked) < 2:
            return []
        best = ranked[0]
        comparisons = []
        for other in ranked[1:]:
            paired = [a / b for a, b in zip(self.per_round(best, "fps"), self.per_round(other, "fps"), strict=True)]  # complete rounds only
            comparisons.append(Comparison.of(best, fps[best], other, fps[other], paired))
        return comparisons

    def measured_anything(self) -> bool:
        return any(self.spread(m, "fps").count for m in self.models)

    def as_dict(self) -> dict[str, object]:
        return {
            "mode": "sequential",
            "source": {"name": self.source, "fps": self.source_fps},
            "models": [
                {
                    "model": m,
                    **{
                        key: self.spread(m, figure).as_dict()
                        for key, figure in (("fps", "fps"), ("latency_p50_ms", "latency"), ("inference_p50_ms", "inference"))
                    },
                }
                for m in self.models
            ],
            "rounds": [r.as_dict() for r in self.rounds],
            "comparisons": [c.as_dict() for c in self.comparisons()],
            "sd_method": SD_METHOD,
            "settings": self.settings,
            "machine": self.machine,
            "problem": self.problem,
            "warnings": self.warnings,
        }


_Item = TypeVar("_Item")


def round_order(models: Sequence[_Item], number: int) -> list[_Item]:
    """Round 1 runs the models (or cells) as given, round 2 in reverse, and so on (ABAB / BABA)."""
    return list(models) if number % 2 == 1 else list(reversed(models))


def shifted_progress(progress: Progress | None, offset: float, total: float) -> Progress | None:
    """The progress of one run among several: its own count moved on by what the runs before it counted."""
    return None if progress is None else (lambda done, _total: progress(offset + done, total))


def run_sequential(options: BenchOptions, registry: ModelRegistry, progress: Progress | None = None) -> SequentialReport:
    """Every model alone on a freshly opened source, ``options.rounds`` times, alternating the order."""
    prepared = prepare(options, registry)
    by_name = {s.name: s for s in prepared.sessions}
    names = list(by_name)
    total = options.rounds * len(names) * options.per_run_total
    rounds: list[Round] = []
    first: Measurement | None = None
    problem = None
    for number in range(1, options.rounds + 1):
        order = round_order(names, number)
        current = Round(number, order, {})
        rounds.append(current)
        for name in order:
            offset = options.per_run_total * (len(names) * (number - 1) + len(current.runs))
            run = measure(prepared, [by_name[name]], options, shifted_progress(progress, offset, total))
            first = first or run
            current.runs[name] = run.models[0]
            problem = run.problem
            if problem:
                break
        if problem:
            break
    # The CLI refuses --rounds below 1 and a bench without models, so the first round measured something.
    assert first is not None, "no run: rounds < 1 or no models"
    settings = {**prepared.settings(options), "rounds": options.rounds, "sequential": True}
    return SequentialReport(first.source, first.source_fps, names, rounds, settings, problem=problem, warnings=first.warnings)
