"""``segview profile``: where a model's time goes, node by node (onnxruntime's profiler), and with
two or more models, what changed against the first (which int8 ops cost more than their float twins)."""

from __future__ import annotations

import argparse
import csv
import io
import os
from pathlib import Path

from segview.cli.numbers import MAX_THREADS, whole
from segview.cli.options import refuse_twin_models
from segview.cli.table import print_table
from segview.errors import SegviewError
from segview.fileio import atomic_write_bytes, atomic_write_json
from segview.inference.registry import DEFAULT_MODEL, ModelRegistry
from segview.profiling import OpProfile, ProfileDiff, diff_profiles, profile_model
from segview.recording.trace_export import op_profile_trace
from segview.sources.frames import first_frames

WARMUP_RUNS = 10


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("profile", help="per-operator profile of models (onnxruntime's profiler), and the diff of two or more")
    p.add_argument(
        "--model", action="append", dest="models", metavar="MODEL", help="model name or .onnx path; repeat to diff against the first (default: selfie-general)"
    )
    p.add_argument("--source", default="demo", help="frames to run on: demo (default), file:PATH or PATH, folder:PATH, camera:N")
    p.add_argument("--frames", type=whole(1, 1000), default=20, metavar="N", help="frames read from the source and cycled through the runs (default 20)")
    p.add_argument("--threads", type=whole(1, MAX_THREADS), default=1, help="threads inside one run (default 1)")
    p.add_argument("--runs", type=whole(1, 5000), default=100, metavar="N", help=f"profiled runs per model, after {WARMUP_RUNS} warm-up runs (default 100)")
    p.add_argument("--top", type=whole(1, 10_000), default=15, metavar="K", help="rows shown per table (default 15)")
    p.add_argument("--provider", default="cpu", help="onnxruntime execution provider (default cpu)")
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the profiles (and diffs) as JSON")
    p.add_argument("--csv", type=Path, default=None, metavar="FILE", help="also write every node and op-type row as CSV")
    p.add_argument(
        "--trace",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write the measured runs as a Chrome JSON trace (Perfetto, chrome://tracing), one process per model",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    references = args.models or [DEFAULT_MODEL]
    for path in (args.json, args.csv, args.trace):
        _check_writable(path)  # before minutes of profiling, not after
    registry = ModelRegistry()
    refuse_twin_models(registry, references)
    entries = [registry.resolve(reference) for reference in references]
    frames = first_frames(args.source, args.frames)
    profiles = [profile_model(e, frames, threads=args.threads, runs=args.runs, warmup=WARMUP_RUNS, provider=args.provider) for e in entries]
    diffs = [diff_profiles(profiles[0], other) for other in profiles[1:]]
    if args.json is not None:
        atomic_write_json(args.json, {"profiles": [p.as_dict() for p in profiles], "diffs": [d.as_dict() for d in diffs]})
    if args.csv is not None:
        atomic_write_bytes(args.csv, profile_csv(profiles, diffs).encode("utf-8"))
    if args.trace is not None:
        atomic_write_json(args.trace, profiles_trace(profiles))
    for profile in profiles:
        print_profile(profile, args.top)
    for diff in diffs:
        print_diff(diff, args.top)
    return 0


def _check_writable(path: Path | None) -> None:
    if path is None:
        return
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise SegviewError(f"cannot write {path}: it is a folder")
    if not folder.is_dir():
        raise SegviewError(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise SegviewError(f"cannot write {path}: permission denied")


def overhead_line(profile: OpProfile) -> str:
    line = (
        f"per-op sum {profile.node_sum_median_ms:.2f} ms = {profile.node_sum_median_ms / profile.wall_median_ms:.0%} "
        f"of the profiled run's wall time {profile.wall_median_ms:.2f} ms"
    )
    cost = profile.profiling_cost()
    if cost is not None:
        line += f"; unprofiled run {profile.unprofiled_median_ms:.2f} ms: profiling adds {cost:.0%}"
    corrected = profile.node_sum_corrected_median_ms
    if corrected is not None and profile.unprofiled_median_ms:
        # Each span carries the profiler's own bookkeeping (span_cost.py measures it here): without it,
        # the per-op figures are what the kernels took.
        line += (
            f"; per-op sum less the profiler's own time in each span {corrected:.2f} ms = {corrected / profile.unprofiled_median_ms:.0%} of the unprofiled run"
        )
    return line


def print_profile(profile: OpProfile, top: int) -> None:
    print(f"{profile.model}: {len(profile.nodes)} nodes, {profile.runs} runs, {profile.threads} thread(s)")
    rows = [[n.name, n.op_type, _shapes(n.input_shapes), f"{n.median_ms:.3f}", f"{n.p90_ms:.3f}", f"{n.share:.1%}"] for n in profile.nodes[:top]]
    print_table(["node", "op type", "input shapes", "median ms", "p90 ms", "share"], rows)
    print()
    by_type = profile.by_op_type()
    print_table(["op type", "nodes", "median ms", "share"], [[op, n, f"{ms:.3f}", f"{share:.1%}"] for op, ms, share, n in by_type[:top]])
    print(overhead_line(profile))
    print()


def _shapes(shapes: tuple[str, ...]) -> str:
    """Tensor inputs only: a quantized kernel's scalar scales and zero points would fill the column."""
    return " ".join(s for s in shapes if not s.endswith("[]"))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def print_diff(diff: ProfileDiff, top: int) -> None:
    matched = len(diff.matched_rows())
    print(f"{diff.other} against {diff.base}: {matched} nodes matched by name; + is slower in {diff.other}")
    rows = [[r.key, r.op_type, _ms(r.base_ms), _ms(r.other_ms), f"{r.delta_ms:+.3f}"] for r in diff.rows[:top]]
    print_table(["node", "op type", f"{diff.base} ms", f"{diff.other} ms", "delta ms"], rows)
    print()
    types = [[t.op_type, f"{t.base_count} → {t.other_count}", f"{t.base_ms:.3f}", f"{t.other_ms:.3f}", f"{t.delta_ms:+.3f}"] for t in diff.op_types[:top]]
    print_table(["op type (float op)", "nodes", f"{diff.base} ms", f"{diff.other} ms", "delta ms"], types)
    print()


CSV_COLUMNS = ["section", "model", "name", "op_type", "input_shapes", "median_ms", "p90_ms", "share", "count", "base_ms", "other_ms", "delta_ms"]


def profile_csv(profiles: list[OpProfile], diffs: list[ProfileDiff]) -> str:
    """Every node and op-type row of every profile, then every diff row, in one table."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for p in profiles:
        for n in p.nodes:
            writer.writerow(
                {
                    "section": "node",
                    "model": p.model,
                    "name": n.name,
                    "op_type": n.op_type,
                    "input_shapes": " ".join(n.input_shapes),
                    "median_ms": n.median_ms,
                    "p90_ms": n.p90_ms,
                    "share": n.share,
                }
            )
        for op, ms, share, count in p.by_op_type():
            writer.writerow({"section": "op_type", "model": p.model, "name": op, "op_type": op, "median_ms": ms, "share": share, "count": count})
    for d in diffs:
        for r in d.rows:
            writer.writerow(
                {
                    "section": "diff_node",
                    "model": d.other,
                    "name": r.key,
                    "op_type": r.op_type,
                    "base_ms": r.base_ms,
                    "other_ms": r.other_ms,
                    "delta_ms": r.delta_ms,
                }
            )
        for t in d.op_types:
            writer.writerow(
                {
                    "section": "diff_op_type",
                    "model": d.other,
                    "name": t.op_type,
                    "op_type": t.op_type,
                    "base_ms": t.base_ms,
                    "other_ms": t.other_ms,
                    "delta_ms": t.delta_ms,
                }
            )
    return out.getvalue()


def profiles_trace(profiles: list[OpProfile]) -> dict:
    """Every model's measured runs in one trace: a process per model, named after it."""
    events = [dict(event, pid=number) for number, profile in enumerate(profiles, 1) for event in profile.trace_events]
    trace = op_profile_trace(events)
    names = {number: f"{profile.model} (onnxruntime profile, {profile.threads} thread(s))" for number, profile in enumerate(profiles, 1)}
    for event in trace["traceEvents"]:
        if event.get("ph") == "M" and event.get("name") == "process_name" and event.get("pid") in names:
            event["args"] = {"name": names[event["pid"]]}
    return trace
