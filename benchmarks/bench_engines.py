"""Inference alone (one prepared tensor through ``session.run``), onnxruntime against OpenVINO at one
thread, the engines alternating per round; medians of per-round medians. Needs ``pip install openvino``.

    python benchmarks/bench_engines.py [--model selfie-general] [--rounds 6] [--runs 200]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from segview.bench_rounds import round_order
from segview.inference.engines import get_engine
from segview.inference.registry import ModelRegistry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="selfie-general")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    entry = ModelRegistry().resolve(args.model)
    sessions = {name: get_engine(name).make_session(entry.path, entry.card, threads=args.threads) for name in ("ort", "openvino")}
    tensor = np.random.default_rng(0).random(sessions["ort"].input_tensor_shape(), np.float32)
    medians: dict[str, list[float]] = {name: [] for name in sessions}
    for number in range(1, args.rounds + 1):
        for name in round_order(list(sessions), number):
            for _ in range(20):  # warm-up, not measured
                sessions[name].run(tensor)
            times = []
            for _ in range(args.runs):
                start = time.perf_counter()
                sessions[name].run(tensor)
                times.append((time.perf_counter() - start) * 1e3)
            medians[name].append(statistics.median(times))
    for name, values in medians.items():
        print(f"{name:9} median ms per round {[round(v, 3) for v in values]}  median {statistics.median(values):.3f}")
    ratio = statistics.median(medians["ort"]) / statistics.median(medians["openvino"])
    print(f"openvino runs at {ratio:.2f}x onnxruntime's speed ({args.model}, {args.threads} thread(s), inference alone)")


if __name__ == "__main__":
    main()
