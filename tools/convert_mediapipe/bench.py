#!/usr/bin/env python3
"""Median onnxruntime session.run time of ONNX models, alternating them in one process.

Needs only numpy and onnxruntime, so it runs in segview's own environment as
well as in the converter's:

    python tools/convert_mediapipe/bench.py models/selfie-general.onnx other.onnx --runs 300
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import onnxruntime as ort


def make_session(model: str | bytes, threads: int) -> tuple[ort.InferenceSession, dict[str, np.ndarray]]:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        so.intra_op_num_threads = threads
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in inp.shape]
    return sess, {inp.name: np.random.default_rng(0).random(shape, dtype=np.float32)}


def bench(models: list[str] | dict[str, bytes], runs: int, threads: int, warmup: int = 30) -> dict[str, float]:
    """Median ms per model; models are paths, or {label: serialized model}."""
    items = models.items() if isinstance(models, dict) else [(p, p) for p in models]
    sessions = {label: make_session(model, threads) for label, model in items}
    times: dict[str, list[float]] = {label: [] for label in sessions}
    for _ in range(warmup):
        for sess, feed in sessions.values():
            sess.run(None, feed)
    for _ in range(runs):
        for p, (sess, feed) in sessions.items():
            t0 = time.perf_counter()
            sess.run(None, feed)
            times[p].append(time.perf_counter() - t0)
    return {p: 1000.0 * float(np.median(t)) for p, t in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--threads", type=int, nargs="+", default=[0, 1], help="intra_op_num_threads values (0 = default)")
    args = ap.parse_args()
    print(f"onnxruntime {ort.__version__}, {args.runs} runs after warm-up, alternating")
    for threads in args.threads:
        label = "default threads" if threads == 0 else f"intra_op_num_threads={threads}"
        for path, ms in bench(args.models, args.runs, threads).items():
            print(f"{label:24s} {ms:7.3f} ms  {path}")


if __name__ == "__main__":
    main()
