"""``segview bench``: FPS and latency of one or more models through the live pipeline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from segview.bench import BenchOptions, BenchReport, run_bench
from segview.cli.options import add_runtime_options, default_model_list
from segview.cli.progress import ProgressBar
from segview.cli.table import print_table
from segview.fileio import atomic_write_json
from segview.inference.registry import ModelRegistry


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure FPS and latency of models on a source")
    p.add_argument("--source", default="demo", help="demo (default), camera:N, file:PATH or PATH, folder:PATH")
    p.add_argument("--model", action="append", dest="models", metavar="MODEL", help="model name or .onnx path; repeat to compare (default: selfie-general)")
    p.add_argument("--frames", type=_positive, default=300, help="frames to measure after warm-up (default 300)")
    p.add_argument("--warmup", type=_non_negative, default=20, help="frames run first and not measured (default 20)")
    p.add_argument("--workers", type=_positive, default=None, help="frames in flight at once (default: number of cores)")
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the results as JSON")
    add_runtime_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    options = BenchOptions(
        source=args.source,
        models=default_model_list(args.models),
        frames=args.frames,
        warmup=args.warmup,
        provider=args.provider,
        workers=args.workers,
        threads=args.threads,
    )
    progress = ProgressBar("bench")
    report = run_bench(options, ModelRegistry(), progress=progress)
    progress.close()
    print_report(report)
    if args.json is not None:
        atomic_write_json(args.json, report.as_dict())
    if report.problem:
        # What was measured before the problem is printed and saved; the run still failed.
        print(f"segview: error: {report.problem}", file=sys.stderr)
        return 1
    return 0


def print_report(report: BenchReport) -> None:
    s = report.settings
    print(f"source {report.source}  workers {s['workers']} x {s['threads_per_run']} thread(s)  provider {s['provider']}")
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


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value
