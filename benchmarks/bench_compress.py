"""Side-by-side latency of a model and its compressed variants, and where an INT8 model's time goes.

    python benchmarks/bench_compress.py --model models/selfie-general.onnx \\
        --variant models/selfie-general-int8.onnx --variant models/selfie-general-fp16.onnx \\
        --variant models/selfie-general-k16.onnx --threads 1,0 --rounds 21 --profile

Every model runs raw ``session.run`` on the same preprocessed frame. The models
take turns within each round, the order rotating from round to round, and each
figure is the median over rounds of the mean time per run: on a shared 2-core
machine a neighbour's burst then lands on every model alike. Speed-up = source
median / variant median, per thread setting (0 = onnxruntime's default).

``--profile`` runs onnxruntime's profiler (``SessionOptions.enable_profiling``)
on the source and on each variant holding QLinearConv/QDQ nodes, and prints
(1) kernel time per op type, (2) each convolution's time in float against
int8, split into pointwise and depthwise, and (3) the Amdahl bound: the
speed-up if every convolution took the faster of its two times, every other op
stayed as fast as in float, and switching between int8 and float cost nothing.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segview.inference.inspect import describe_model  # noqa: E402
from segview.inference.preprocess import Preprocessor  # noqa: E402
from segview.inference.session import SegmentationSession, SessionOptions  # noqa: E402
from segview.metrics.process import machine_info  # noqa: E402
from segview.sources.demo import DEMO_CLIP  # noqa: E402


def frame_tensor(path: Path) -> np.ndarray:
    card = describe_model(path)
    capture = cv2.VideoCapture(str(DEMO_CLIP))
    ok, image = capture.read()
    capture.release()
    if not ok:
        image = np.full((card.height, card.width, 3), 128, np.uint8)
    return Preprocessor(card)(image)


def alternate(paths: list[Path], tensor: np.ndarray, *, threads: int, rounds: int, runs: int, warmup: int) -> list[float]:
    sessions = [SegmentationSession(p, describe_model(p), SessionOptions(threads=threads or None)) for p in paths]
    for s in sessions:
        for _ in range(warmup):
            s.run(tensor)
    per_model: list[list[float]] = [[] for _ in paths]
    for r in range(rounds):
        order = list(range(len(paths)))
        order = order[r % len(order) :] + order[: r % len(order)]
        for k in order:
            run = sessions[k].run
            start = time.perf_counter()
            for _ in range(runs):
                run(tensor)
            per_model[k].append((time.perf_counter() - start) * 1e3 / runs)
    return [statistics.median(v) for v in per_model]


def profile(path: Path, tensor: np.ndarray, runs: int) -> dict[str, tuple[str, float]]:
    """Node name -> (op type, mean microseconds per run), one thread."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.enable_profiling = True
    so.log_severity_level = 3
    so.profile_file_prefix = f"/tmp/segview-bench-{os.getpid()}-{path.stem}"
    session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    for _ in range(runs):
        session.run(None, {name: tensor})
    trace = Path(session.end_profiling())
    events = json.loads(trace.read_text())
    trace.unlink()
    totals: dict[str, list] = {}
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            node = e["name"][: -len("_kernel_time")]
            entry = totals.setdefault(node, [e["args"].get("op_name", "?"), 0.0])
            entry[1] += e["dur"] / runs
    return {k: (v[0], v[1]) for k, v in totals.items()}


def conv_times(source: onnx.ModelProto, prof: dict[str, tuple[str, float]]) -> dict[str, float]:
    """Each source convolution's kernel time in a profile, whatever onnxruntime renamed it to.

    Float: the NCHWc rewrite names a fused Conv+activation after its output (``re_lu_3_nchwc``).
    Int8: the NHWC rewrite appends a token to the node's name (``conv2d_5_token_37``).
    """
    users = collections.defaultdict(list)
    for n in source.graph.node:
        for i in n.input:
            users[i].append(n)
    result = {}
    for conv in (n for n in source.graph.node if n.op_type in ("Conv", "ConvTranspose")):
        names = {conv.name, conv.output[0] + "_nchwc", conv.output[0]}
        names |= {u.output[0] + "_nchwc" for u in users[conv.output[0]] if u.op_type in ("Relu", "Sigmoid", "HardSwish", "HardSigmoid", "Clip")}
        result[conv.name] = sum(t for k, (op, t) in prof.items() if k in names or k.startswith(conv.name + "_token"))
    return result


def report_profile(source_path: Path, variant: Path, tensor: np.ndarray, runs: int) -> dict:
    source = onnx.load(str(source_path))
    shapes = {i.name: tuple(i.dims) for i in source.graph.initializer}
    groups = {}
    for n in source.graph.node:
        if n.op_type != "Conv":
            groups[n.name] = n.op_type.lower()
            continue
        group = next((a.i for a in n.attribute if a.name == "group"), 1)
        kernel = shapes.get(n.input[1], (0, 0, 1, 1))[2:]
        groups[n.name] = "depthwise" if group > 1 else ("pointwise" if all(k == 1 for k in kernel) else "full kxk")
    fp32 = profile(source_path, tensor, runs)
    int8 = profile(variant, tensor, runs)
    by_op = {}
    for label, prof in (("source", fp32), ("variant", int8)):
        agg = collections.Counter()
        for op, t in prof.values():
            agg[op] += t
        by_op[label] = dict(agg.most_common())
    f_conv, q_conv = conv_times(source, fp32), conv_times(source, int8)
    split = collections.defaultdict(lambda: [0.0, 0.0])
    for name, t in f_conv.items():
        kind = groups.get(name, "other")
        split[kind][0] += t
        split[kind][1] += q_conv.get(name, 0.0)
    total_fp32 = sum(t for _, t in fp32.values())
    conv_fp32 = sum(f_conv.values())
    best_conv = sum(min(f_conv[n], q_conv[n]) if q_conv.get(n) else f_conv[n] for n in f_conv)
    bound = total_fp32 / (total_fp32 - conv_fp32 + best_conv)
    return {
        "kernel_us_by_op": by_op,
        "conv_us": {k: {"float": round(v[0], 1), "int8": round(v[1], 1)} for k, v in split.items()},
        "per_conv_us": {n: {"float": round(f_conv[n], 1), "int8": round(q_conv.get(n, 0.0), 1), "kind": groups.get(n, "other")} for n in f_conv},
        "total_us": {"source": round(total_fp32, 1), "variant": round(sum(t for _, t in int8.values()), 1)},
        "amdahl_bound_speedup": round(bound, 3),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=Path("models/selfie-general.onnx"))
    p.add_argument("--variant", type=Path, action="append", default=[])
    p.add_argument("--threads", default="1,0", help="comma-separated; 0 = onnxruntime's default")
    p.add_argument("--rounds", type=int, default=21)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--profile", action="store_true")
    p.add_argument("--profile-runs", type=int, default=300)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    paths = [args.model, *args.variant]
    tensor = frame_tensor(args.model)
    out: dict = {"machine": machine_info(), "rounds": args.rounds, "runs_per_round": args.runs, "latency": {}}
    for threads in (int(t) for t in args.threads.split(",")):
        medians = alternate(paths, tensor, threads=threads, rounds=args.rounds, runs=args.runs, warmup=args.warmup)
        label = "default threads" if threads == 0 else f"{threads} thread(s)"
        print(f"\n{label}: median ms per run over {args.rounds} alternating rounds of {args.runs}")
        rows = {}
        for path, ms in zip(paths, medians, strict=True):
            ratio = medians[0] / ms
            rows[path.name] = {"ms": round(ms, 4), "speedup": round(ratio, 3)}
            print(f"  {path.name:34s} {ms:8.3f} ms   {ratio:5.2f}x")
        out["latency"][label] = rows
    if args.profile:
        out["profile"] = {}
        for variant in args.variant:
            ops = {n.op_type for n in onnx.load(str(variant)).graph.node}
            if not ops & {"QuantizeLinear", "QLinearConv"}:
                continue
            result = report_profile(args.model, variant, tensor, args.profile_runs)
            out["profile"][variant.name] = result
            print(f"\nprofile, 1 thread, {args.profile_runs} runs: {args.model.name} against {variant.name} (microseconds per run)")
            for label in ("source", "variant"):
                top = ", ".join(f"{op} {t:.0f}" for op, t in list(result["kernel_us_by_op"][label].items())[:8])
                print(f"  {label:8s} total {result['total_us'][label]:.0f}: {top}")
            for kind, v in result["conv_us"].items():
                print(f"  {kind:13s} convolutions: float {v['float']:6.0f} us, int8 variant {v['int8']:6.0f} us")
            print(f"  Amdahl bound (each conv at its faster precision, other ops as in float, free conversions): {result['amdahl_bound_speedup']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
