#!/usr/bin/env python3
"""Distilled students vs their teacher, side by side in one process: speed and validation IoU.

Speed: raw ``session.run`` (what ``SegmentationSession.run`` calls) on one fixed
input per model, at each model's own input size, the models taking turns within
every round (teacher, student A, student B, teacher, ...) so that a neighbour's
load or a clock change hits them alike; medians over the rounds, and the
teacher/student ratio of medians. Sessions use ``--threads`` intra-op threads
(2 by default: this machine's cores), as ``segview bench`` does for one model.
On a shared machine run it twice, or with more rounds; the ratio is steadier
than the milliseconds.

IoU: segview eval's protocol (probability resized to the image, bilinear,
threshold 0.5, mean per-image person IoU) on a labelled folder that training
never saw, for each model.

    python benchmarks/bench_students.py --images VAL/images --masks VAL/masks
    python benchmarks/bench_students.py --teacher selfie-general --student selfie-student-fast --student selfie-student-accurate --rounds 2000 --json out.json

No PyTorch needed: only onnxruntime and segview.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from segview.evaluation import evaluate
from segview.inference.registry import ModelRegistry
from segview.inference.session import SegmentationSession, SessionOptions


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--teacher", default="selfie-general")
    p.add_argument("--student", action="append", default=None, help="repeatable (default: the two shipped students)")
    p.add_argument("--images", type=Path, help="validation images (IoU is skipped without them)")
    p.add_argument("--masks", type=Path)
    p.add_argument("--rounds", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    students = args.student or ["selfie-student-fast", "selfie-student-accurate"]

    registry = ModelRegistry()
    names = [args.teacher, *students]
    sessions = []
    for name in names:
        entry = registry.resolve(name)
        sessions.append(SegmentationSession(entry.path, entry.card, SessionOptions(threads=args.threads)))
    rng = np.random.default_rng(0)
    inputs = [rng.random(s.input_tensor_shape(), dtype=np.float32) for s in sessions]
    times: list[list[float]] = [[] for _ in sessions]
    for i in range(args.warmup + args.rounds):
        for k, (session, tensor) in enumerate(zip(sessions, inputs, strict=True)):
            t0 = time.perf_counter()
            session.run(tensor)
            if i >= args.warmup:
                times[k].append((time.perf_counter() - t0) * 1e3)
    medians = [float(np.median(t)) for t in times]

    ious: list[float | None] = [None] * len(sessions)
    if args.images and args.masks:
        for k, session in enumerate(sessions):
            # One thread per image and two at once, as segview eval does.
            single = SegmentationSession(session.path, session.card, SessionOptions(threads=1))
            ious[k] = evaluate(single, args.images, args.masks).mean_iou

    print(f"{platform.processor() or platform.machine()}; session.run, {args.threads} threads, {args.rounds} alternating rounds, medians")
    print(f"{'model':28s} {'input':>9s} {'median ms':>10s} {'p90 ms':>8s} {'speedup':>8s} {'val IoU':>8s} {'vs teacher':>10s}")
    rows = []
    for k, name in enumerate(names):
        card = sessions[k].card
        speedup = medians[0] / medians[k]
        delta = None if ious[k] is None or ious[0] is None else ious[k] - ious[0]
        rows.append({"model": name, "width": card.width, "height": card.height, "median_ms": medians[k], "p90_ms": float(np.percentile(times[k], 90)),
                     "speedup": speedup, "val_iou": ious[k], "iou_vs_teacher_points": None if delta is None else 100 * delta})
        iou = "" if ious[k] is None else f"{ious[k]:.4f}"
        vs = "" if delta is None else f"{100 * delta:+.2f} pt"
        print(f"{name:28s} {card.width:>4d}x{card.height:<4d} {medians[k]:10.3f} {np.percentile(times[k], 90):8.3f} {speedup:7.2f}x {iou:>8s} {vs:>10s}")
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, "rounds": args.rounds, "models": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
