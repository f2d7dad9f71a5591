#!/usr/bin/env python3
"""What onnxruntime's profiler costs, and whether its per-op figures add up to a plain run.

For each model of MODELS (comma-separated, default selfie-general,selfie-general-int8), REPEATS
(default 3) times: ``segview.profiling.profile_model`` on the demo clip's first 20 frames, RUNS
(default 200) runs after 20 warm-up runs, the profiled session and a plain one (as the pipeline
runs the model) alternating 5 runs at a time. Prints, per model, the medians over the repeats of
the plain run, the profiled run's wall time and the per-op sum, and the per-op sum against the plain
run (target: within 15%).

    python3 benchmarks/bench_profile_overhead.py
    MODELS=selfie-general THREADS=2 RUNS=500 python3 benchmarks/bench_profile_overhead.py
"""

from __future__ import annotations

import math
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET = 0.15


def _profile(entry, frames, threads: int, runs: int):
    """One profile, its span cost measured afresh right after its runs (the machine's load changes between repeats)."""
    from segview.profiling import profile_model
    from segview.profiling.op_profile import span_cost_for

    span_cost_for.cache_clear()
    return profile_model(entry, frames, threads=threads, runs=runs, warmup=20)


def main() -> int:
    from segview.cli.table import print_table
    from segview.inference.registry import ModelRegistry
    from segview.sources.frames import first_frames

    models = os.environ.get("MODELS", "selfie-general,selfie-general-int8").split(",")
    threads, runs, repeats = int(os.environ.get("THREADS", "1")), int(os.environ.get("RUNS", "200")), int(os.environ.get("REPEATS", "3"))
    registry = ModelRegistry()
    frames = first_frames("demo", 20)
    rows, ok, costs = [], True, []
    for name in models:
        profiles = [_profile(registry.resolve(name), frames, threads, runs) for _ in range(repeats)]
        plain = statistics.median(p.unprofiled_median_ms for p in profiles)
        wall = statistics.median(p.wall_median_ms for p in profiles)
        node_sum = statistics.median(p.node_sum_median_ms for p in profiles)
        corrected = statistics.median(p.node_sum_corrected_median_ms or math.nan for p in profiles)
        gap, corrected_gap = node_sum / plain - 1.0, corrected / plain - 1.0
        ok &= abs(corrected_gap) <= TARGET
        spread = ", ".join(f"{p.node_sum_median_ms / p.unprofiled_median_ms - 1:+.0%}" for p in profiles)
        corrected_spread = ", ".join(f"{(p.node_sum_corrected_median_ms or math.nan) / p.unprofiled_median_ms - 1:+.0%}" for p in profiles)
        nodes = statistics.median(len(p.nodes) for p in profiles)
        costs += [f"{p.span_cost.one_input_us:.1f}/{p.span_cost.nine_inputs_us:.1f}" for p in profiles if p.span_cost]
        rows.append(
            [
                name,
                threads,
                nodes,
                f"{plain:.2f}",
                f"{wall:.2f} ({wall / plain - 1:+.0%})",
                f"{node_sum:.2f} {gap:+.0%} ({spread})",
                f"{corrected:.2f} {corrected_gap:+.0%} ({corrected_spread})",
                "yes" if abs(corrected_gap) <= TARGET else "NO",
            ]
        )
    print(f"{runs} runs x {repeats} repeats per model, profiled and plain alternating; medians over the repeats")
    print("profiler's own time inside a node's kernel span, measured after each profile (us, 1 input / 9 inputs): " + ", ".join(costs))
    print_table(
        [
            "model",
            "threads",
            "nodes",
            "plain ms",
            "profiled wall ms",
            "per-op sum ms, raw vs plain (each repeat)",
            "corrected sum ms vs plain (each repeat)",
            f"corrected within {TARGET:.0%}",
        ],
        rows,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
