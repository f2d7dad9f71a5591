"""``segview bench``: FPS and latency of one or more models through the live pipeline.

Shared (the default): every model on every frame in one pipeline, as the studio runs
them; the FPS is the pipeline's, the same for all. ``--sequential``: each model alone
in alternating rounds (segview.bench_rounds), to answer which is faster.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path

from segview.bench import BenchOptions, BenchReport, run_bench
from segview.bench_rounds import SequentialReport, Spread, run_sequential
from segview.bench_sweep import Setting, SweepReport, run_sweep, sweep_grid
from segview.cli.numbers import MAX_FRAMES, MAX_THREADS, MAX_WORKERS, seconds, whole
from segview.cli.options import default_model_list, refuse_twin_models
from segview.cli.progress import ProgressBar
from segview.cli.table import print_table
from segview.errors import SegviewError
from segview.fileio import atomic_write_json
from segview.inference.litert_engine import is_tflite
from segview.inference.registry import ModelRegistry

DEFAULT_FRAMES = 300
DEFAULT_ROUNDS = 5


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure FPS and latency of models on a source")
    p.add_argument("--source", default="demo", help="demo (default), camera:N, file:PATH or PATH, folder:PATH; quote names holding '&'")
    p.add_argument("--model", action="append", dest="models", metavar="MODEL", help="model name or .onnx path; repeat to compare (default: selfie-general)")
    p.add_argument("--sequential", action="store_true", help="run each model alone, in alternating rounds, and say which is faster (mean ± σ, min … max)")
    p.add_argument(
        "--rounds", type=whole(2, 1000), default=None, metavar="N", help=f"with --sequential: rounds, each running every model alone (default {DEFAULT_ROUNDS})"
    )
    length = p.add_mutually_exclusive_group()
    length.add_argument(
        "--frames", type=whole(1, MAX_FRAMES), default=None, metavar="N", help=f"frames to measure after warm-up, per model run (default {DEFAULT_FRAMES})"
    )
    length.add_argument("--duration", type=seconds(), default=None, metavar="S", help="or: seconds to measure after warm-up, per model run")
    p.add_argument("--warmup", type=whole(0, 100_000), default=20, metavar="N", help="frames run first and not measured, per model run (default 20)")
    p.add_argument(
        "--workers",
        type=listed(whole(1, MAX_WORKERS)),
        default=None,
        metavar="N[,N...]",
        help="frames in flight at once (default: number of cores); a list sweeps",
    )
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the results as JSON")
    # add_runtime_options' two, taking lists here: several values sweep the grid (segview.bench_sweep).
    p.add_argument(
        "--provider",
        type=listed(str),
        default=("cpu",),
        metavar="P[,P...]",
        help="onnxruntime execution provider: cpu (default), cuda, ... (see 'segview providers'); a list sweeps",
    )
    p.add_argument(
        "--threads",
        type=listed(whole(1, MAX_THREADS)),
        default=None,
        metavar="N[,N...]",
        help="threads inside one model run (default: cores / workers); a list sweeps",
    )
    p.add_argument(
        "--engine", type=listed(str), default=("ort",), metavar="E[,E...]", help="ort (onnxruntime, default) or openvino where installed; a list sweeps"
    )
    p.set_defaults(handler=run)


def listed(one: Callable[[str], object]) -> Callable[[str], tuple]:
    """'1,2' -> (1, 2), each item checked by ``one``; a single value is a one-item tuple."""

    def convert(text: str) -> tuple:
        items = [t.strip() for t in text.split(",")]
        if not all(items):
            raise argparse.ArgumentTypeError(f"{text!r} has an empty item; give values separated by commas")
        return tuple(one(t) for t in items)

    convert.__name__ = "comma-separated list"
    return convert


def _grid(args: argparse.Namespace) -> list[Setting] | None:
    """The settings to sweep, or None for one setting (bench as it always ran)."""
    engines = args.engine
    if tuple(engines) == ("ort",) and any(is_tflite(m) for m in args.models or ()):
        engines = ("litert",)  # a .tflite runs on LiteRT unless the user asked for another engine
    axes = (engines, args.provider, args.workers or (None,), args.threads or (None,))
    if all(len(axis) == 1 for axis in axes) and engines[0].lower() in ("ort", "onnxruntime"):
        return None
    return sweep_grid(*axes)


def run(args: argparse.Namespace) -> int:
    grid = _grid(args)
    if args.rounds is not None and not args.sequential and grid is None:
        raise SegviewError("--rounds applies to --sequential runs and sweeps")
    options = BenchOptions(
        source=args.source,
        models=default_model_list(args.models),
        frames=args.frames or DEFAULT_FRAMES,
        warmup=args.warmup,
        provider=args.provider[0],
        workers=args.workers[0] if args.workers else None,
        threads=args.threads[0] if args.threads else None,
        duration_s=args.duration,
        rounds=args.rounds or DEFAULT_ROUNDS,
    )
    registry = ModelRegistry()
    refuse_twin_models(registry, options.models)
    progress = ProgressBar("bench", unit="s" if args.duration is not None else "frames")
    report: SweepReport | SequentialReport | BenchReport
    try:
        if grid is not None:
            report = run_sweep(options, grid, registry, progress=progress)
        elif args.sequential:
            report = run_sequential(options, registry, progress=progress)
        else:
            report = run_bench(options, registry, progress=progress)
    finally:
        progress.close()
    if args.json is not None:
        atomic_write_json(args.json, report.as_dict())
    if not report.measured_anything():
        # No table of nan rows: the reason alone.
        raise SegviewError(report.problem or "nothing was measured: the source gave fewer than two frames after warm-up")
    if isinstance(report, SweepReport):
        print_sweep(report)
    elif isinstance(report, SequentialReport):
        print_rounds(report)
    else:
        print_report(report)
    for warning in report.warnings:
        print(f"segview: warning: {warning}", file=sys.stderr)
    if report.problem:
        # What was measured before the problem is printed and saved; the run still failed, with the
        # exit status of every other segview error (eval's for the same model error, say).
        print(f"segview: error: {report.problem}", file=sys.stderr)
        return 2
    return 0


def _settings_line(source: str, s: dict[str, object]) -> str:
    length = f"{s['duration_s']:g} s" if "duration_s" in s else f"{s['frames']} frames"
    return f"source {source}  workers {s['workers']} x {s['threads_per_run']} thread(s)  provider {s['provider']}  {length} after {s['warmup_frames']} warm-up"


def print_report(report: BenchReport) -> None:
    print(_settings_line(report.source, report.settings))
    rows = []
    for m in report.models:
        st = m.stage_medians_ms
        rows.append(
            [
                m.model,
                m.frames,
                f"{m.fps:.1f}",
                f"{m.latency_ms.p50:.2f} / {m.latency_ms.p95:.2f} / {m.latency_ms.p99:.2f}",
                f"{m.inference_ms.p50:.2f} / {m.inference_ms.p95:.2f} / {m.inference_ms.p99:.2f}",
                " ".join(f"{st[k]:.2f}" for k in ("capture_ms", "queue_ms", "preprocess_ms", "inference_ms", "postprocess_ms")),
            ]
        )
    print_table(["model", "frames", "FPS", "latency ms p50/p95/p99", "inference ms p50/p95/p99", "median ms: capture queue pre infer post"], rows)
    print(f"dropped frames {report.frames_dropped}  process CPU {report.usage.cpu_percent:.0f}%  peak RSS {report.usage.peak_rss_mb:.0f} MB")
    if len(report.models) > 1:
        print("note: the models share each frame, so the FPS is the pipeline's; to see which is faster, use --sequential")


def print_rounds(report: SequentialReport) -> None:
    """hyperfine's layout: per model mean ± σ and min … max across rounds, then the comparisons."""
    done = len(report.complete_rounds)
    print(_settings_line(report.source, report.settings) + f"  sequential: {done} round(s), order alternating")
    for name in report.models:
        print(name)
        print(f"  FPS            (mean ± σ): {_spread(report.spread(name, 'fps'), 1)}")
        print(f"  latency p50 ms (mean ± σ): {_spread(report.spread(name, 'latency'), 2)}")
        print(f"  infer p50 ms   (mean ± σ): {_spread(report.spread(name, 'inference'), 2)}")
    for c in report.comparisons():
        print(f"{c.faster} ran {c.ratio:.2f} ± {_num(c.sd, 2)} times faster than {c.slower}")


def _spread(s: Spread, digits: int) -> str:
    return f"{_num(s.mean, digits):>8} ± {_num(s.sd, digits):<6}  (min … max: {_num(s.low, digits)} … {_num(s.high, digits)}, {s.count} rounds)"


def _num(value: float, digits: int) -> str:
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


def print_sweep(report: SweepReport) -> None:
    """Per model, one row per setting: median FPS across rounds and its ratio to the best; then the fastest."""
    s = report.settings
    length = f"{s['duration_s']:g} s" if "duration_s" in s else f"{s['frames']} frames"
    print(
        f"source {report.source}  sweep of {len(report.grid)} settings, each model alone, {len(report.orders)} round(s), order alternating  {length} after {s['warmup_frames']} warm-up"
    )
    for model in report.models:
        best = report.fastest(model)
        best_fps = report.median_fps(model, best) if best is not None else math.nan
        rows = []
        for i, cell in enumerate(report.grid):
            median = report.median_fps(model, i)
            rows.append(
                [cell.engine, cell.provider, cell.workers, report.threads_used[i], _num(median, 1), _num(median / best_fps, 2), len(report.fps[model][i])]
            )
        print(model)
        print_table(["engine", "provider", "workers", "threads", "FPS median", "x best", "rounds"], rows)
        if best is not None:
            print(f"fastest for {model} here: {report.label(best)} ({best_fps:.1f} FPS median)")
