"""Per-operator profile of one model: onnxruntime's own profiler on real, preprocessed frames.

Two sessions of the same model run in alternating rounds: one with ``enable_profiling``,
whose node spans give each node's median and p90 time, and a plain one as the pipeline runs
it, whose median run time says what the profiler itself costs. Warm-up runs of both are
left out.
"""

from __future__ import annotations

import functools
import json
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from segview.errors import ModelError, SegviewError
from segview.inference.registry import ModelEntry
from segview.inference.session import SegmentationSession, SessionOptions, first_line, load_ort_session, ort_session_options
from segview.profiling.ort_trace import GraphIndex, RunTimes, runs_from_events
from segview.profiling.span_cost import SpanCost, measure_span_cost

# Runs per turn before the other session takes over: long enough to keep caches warm, short
# enough that a slow spell of the machine falls on both sessions.
ROUND_RUNS = 5


@dataclass(frozen=True)
class NodeTime:
    name: str  # the node as onnxruntime ran it (after its graph optimisations)
    op_type: str
    input_shapes: tuple[str, ...]
    median_ms: float
    p90_ms: float
    share: float  # of the summed node medians, 0..1
    graph_node: str = ""  # the ONNX file's node it did the work of (float name for a quantized one); "" if made up


@dataclass(frozen=True)
class OpProfile:
    model: str
    threads: int
    runs: int
    nodes: tuple[NodeTime, ...]  # slowest first
    wall_median_ms: float  # session.run wall time of the profiled runs
    node_sum_median_ms: float  # per-run sum of node times, median over runs
    unprofiled_median_ms: float | None  # the same model's run time without the profiler
    # onnxruntime's own events of the measured runs (Chrome trace events), for ``segview profile --trace``.
    trace_events: tuple[dict, ...] = field(default=(), repr=False, compare=False)
    # The profiler's own time inside each kernel span, measured here (span_cost.py; CPU only, else None), and the
    # per-run node sum less it, node by node: what the per-op figures add up to without the profiler's bookkeeping.
    span_cost: SpanCost | None = None
    node_sum_corrected_median_ms: float | None = None

    def by_op_type(self) -> list[tuple[str, float, float, int]]:
        """(op type, summed median ms, share 0..1, node count), the costliest first."""
        total: dict[str, float] = defaultdict(float)
        count: dict[str, int] = defaultdict(int)
        for node in self.nodes:
            total[node.op_type] += node.median_ms
            count[node.op_type] += 1
        whole = sum(total.values()) or 1.0
        return sorted(((op, ms, ms / whole, count[op]) for op, ms in total.items()), key=lambda row: -row[1])

    def overhead(self) -> float:
        """The part of a profiled run's wall time no node accounts for: 1 - node sum / wall time.

        That is onnxruntime's own work between kernels plus the profiler's bookkeeping; what the
        profiler adds to a run on top is :meth:`profiling_cost`.
        """
        return 1.0 - self.node_sum_median_ms / self.wall_median_ms if self.wall_median_ms > 0 else 0.0

    def profiling_cost(self) -> float | None:
        """How much longer a profiled run takes than a plain one (0.07 = 7%); None if not measured."""
        if not self.unprofiled_median_ms:
            return None
        return self.wall_median_ms / self.unprofiled_median_ms - 1.0

    def as_dict(self) -> dict:
        data = asdict(self)
        del data["trace_events"]
        data["nodes"] = [asdict(n) | {"input_shapes": list(n.input_shapes)} for n in self.nodes]
        data["by_op_type"] = [{"op_type": op, "median_ms": ms, "share": share, "count": n} for op, ms, share, n in self.by_op_type()]
        data["overhead"] = self.overhead()
        data["profiling_cost"] = self.profiling_cost()
        return data


def profile_model(entry: ModelEntry, frames: list[np.ndarray], *, threads: int = 1, runs: int = 50, warmup: int = 10, provider: str = "cpu") -> OpProfile:
    """Profile ``runs`` runs (after ``warmup`` more) of the model on the frames, cycled.

    On the CPU the profiler's own cost inside each node's span is measured too (once per thread count
    in a process, about a second) and the node sum is also given without it.
    """
    if not frames:
        raise SegviewError("nothing to profile: no frames")
    if runs < 1 or warmup < 0:
        raise SegviewError("give at least one run to profile and no negative warm-up")
    options = SessionOptions(provider=provider, threads=threads)
    plain = SegmentationSession(entry.path, entry.card, options)
    tensors = [plain.preprocess(frame) for frame in frames]
    with tempfile.TemporaryDirectory(prefix="segview-profile-") as folder:
        so = ort_session_options(options)
        so.enable_profiling = True
        so.profile_file_prefix = str(Path(folder) / "ort")
        profiled = load_ort_session(entry.path, options, so)
        walls, plain_walls = _alternate(profiled, plain, tensors, entry.name, warmup + runs)
        events = _read_profile(profiled.end_profiling(), entry.name)
    recorded = runs_from_events(events)
    if len(recorded) != warmup + runs:
        # onnxruntime's profiler stops recording at about a million events (runs x nodes).
        raise SegviewError(f"{entry.name}: onnxruntime's profiler recorded {len(recorded)} of {warmup + runs} runs; profile fewer runs")
    measured = recorded[warmup:]
    if not any(run.nodes for run in measured):
        raise SegviewError(f"{entry.name}: onnxruntime recorded no node times with provider {plain.provider} (it cannot profile there)")
    nodes = _node_times(measured, GraphIndex(entry.path))
    cost = span_cost_for(threads) if plain.provider == "CPUExecutionProvider" else None
    return OpProfile(
        model=entry.name,
        threads=threads,
        runs=runs,
        nodes=nodes,
        wall_median_ms=statistics.median(walls[warmup:]),
        node_sum_median_ms=statistics.median(sum(n.duration_us for n in run.nodes.values()) / 1e3 for run in measured),
        unprofiled_median_ms=statistics.median(plain_walls[warmup:]),
        trace_events=tuple(e for e in events if "ts" in e and float(e["ts"]) >= measured[0].start_us),
        span_cost=cost,
        node_sum_corrected_median_ms=None if cost is None else statistics.median(_corrected_sum_ms(run, cost) for run in measured),
    )


def _corrected_sum_ms(run: RunTimes, cost: SpanCost) -> float:
    """One run's node sum with each node's span less the profiler's cost for its number of inputs (never below 0)."""
    return sum(max(0.0, n.duration_us - cost.for_inputs(len(n.input_shapes))) for n in run.nodes.values()) / 1e3


@functools.cache
def span_cost_for(threads: int) -> SpanCost:
    """measure_span_cost, once per thread count in a process: the profiles of one command share it."""
    return measure_span_cost(threads)


def _alternate(profiled, plain: SegmentationSession, tensors: list[np.ndarray], name: str, total: int) -> tuple[list[float], list[float]]:
    """Run both sessions ``total`` times each, ROUND_RUNS at a time in turn; wall times in ms."""
    input_name, outputs = plain.card.input_name, [plain.card.output_name]
    walls: list[float] = []
    plain_walls: list[float] = []
    while len(walls) < total:
        for _ in range(min(ROUND_RUNS, total - len(walls))):
            tensor = tensors[len(walls) % len(tensors)]
            start = time.perf_counter()
            try:
                profiled.run(outputs, {input_name: tensor})
            except Exception as exc:  # onnxruntime raises several types for a failing node
                raise ModelError(f"{name} failed while running: {first_line(exc)}") from None
            walls.append((time.perf_counter() - start) * 1e3)
        while len(plain_walls) < len(walls):
            tensor = tensors[len(plain_walls) % len(tensors)]
            start = time.perf_counter()
            plain.run(tensor)
            plain_walls.append((time.perf_counter() - start) * 1e3)
    return walls, plain_walls


def _read_profile(path: str, name: str) -> list[dict]:
    if not path:
        raise SegviewError(f"{name}: onnxruntime wrote no profile (its execution provider cannot profile)")
    try:
        events = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SegviewError(f"{name}: onnxruntime's profile cannot be read: {first_line(exc)}") from None
    finally:
        Path(path).unlink(missing_ok=True)
    if not isinstance(events, list):
        raise SegviewError(f"{name}: onnxruntime's profile is not a list of trace events")
    return events


def _node_times(runs: list[RunTimes], graph: GraphIndex) -> tuple[NodeTime, ...]:
    """Median and p90 per node over the runs (a node missing from a run counts 0 there)."""
    first_seen: dict[str, tuple[str, tuple[str, ...]]] = {}
    for run in runs:
        for name, node in run.nodes.items():
            first_seen.setdefault(name, (node.op_type, node.input_shapes))
    stats = {}
    for name in first_seen:
        values = np.array([run.nodes[name].duration_us / 1e3 if name in run.nodes else 0.0 for run in runs])
        stats[name] = (float(np.median(values)), float(np.percentile(values, 90)))
    whole = sum(median for median, _ in stats.values()) or 1.0
    nodes = [
        NodeTime(name, op, shapes, stats[name][0], stats[name][1], stats[name][0] / whole, graph.origin(name, op)) for name, (op, shapes) in first_seen.items()
    ]
    return tuple(sorted(nodes, key=lambda n: -n.median_ms))
