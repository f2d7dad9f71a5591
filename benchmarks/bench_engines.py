"""Inference alone (one prepared tensor through ``session.run``), onnxruntime against OpenVINO and/or
LiteRT at one thread, the engines alternating per round; medians of per-round medians. Needs
``pip install openvino`` / ``pip install ai-edge-litert``; LiteRT runs the ``.tflite`` given with
``--tflite`` (the same network as ``--model``: MediaPipe's original of selfie-general, say).

    python benchmarks/bench_engines.py [--model selfie-general] [--rounds 6] [--runs 200]
    python benchmarks/bench_engines.py --engines ort,litert --tflite selfie_segmentation.tflite
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from segview.bench_rounds import round_order
from segview.inference.engines import get_engine
from segview.inference.litert_engine import tflite_entry
from segview.inference.registry import ModelRegistry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="selfie-general")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--engines", default="ort,openvino", help="comma-separated, ort first (the ratios are to it)")
    parser.add_argument("--tflite", type=Path, help="the .tflite LiteRT runs (the same network as --model)")
    args = parser.parse_args()
    if "litert" in args.engines.split(",") and args.tflite is None:
        parser.error("litert runs a .tflite model: give it with --tflite")
    registry = ModelRegistry()
    onnx_entry = registry.resolve(args.model)
    sessions = {}
    for name in args.engines.split(","):
        entry = tflite_entry(args.tflite, registry) if name == "litert" else onnx_entry
        sessions[name] = get_engine(name).make_session(entry.path, entry.card, threads=args.threads)
    # One image for all: N,H,W,C for a NHWC engine (LiteRT), transposed to N,C,H,W for the others.
    image = np.random.default_rng(0).random((1, onnx_entry.card.height, onnx_entry.card.width, 3), np.float32)
    tensors = {name: image if s.card.layout == "NHWC" else np.ascontiguousarray(image.transpose(0, 3, 1, 2)) for name, s in sessions.items()}
    medians: dict[str, list[float]] = {name: [] for name in sessions}
    for number in range(1, args.rounds + 1):
        for name in round_order(list(sessions), number):
            for _ in range(20):  # warm-up, not measured
                sessions[name].run(tensors[name])
            times = []
            for _ in range(args.runs):
                start = time.perf_counter()
                sessions[name].run(tensors[name])
                times.append((time.perf_counter() - start) * 1e3)
            medians[name].append(statistics.median(times))
    for name, values in medians.items():
        print(f"{name:9} median ms per round {[round(v, 3) for v in values]}  median {statistics.median(values):.3f}")
    for name in [n for n in sessions if n != "ort"]:
        ratio = statistics.median(medians["ort"]) / statistics.median(medians[name])
        print(
            f"{name} runs at {ratio:.2f}x onnxruntime's speed ({sessions[name].path.name} against {onnx_entry.path.name}, {args.threads} thread(s), inference alone)"
        )


if __name__ == "__main__":
    main()
