#!/usr/bin/env python3
"""Compressed variants vs their teacher, side by side in one process: speed, labelled IoU, teacher agreement.

Speed: raw ``session.run`` (what ``SegmentationSession.run`` calls) on one fixed input per
model, at each model's own input size, the models taking turns within every round
(teacher, variant A, variant B, teacher, ...) so that a neighbour's load or a clock change
hits them alike; medians over the rounds and the teacher/variant ratio of medians. One
intra-op thread by default: the issue's targets are stated at one thread.

Labelled IoU: segview eval's masks (probability resized to the image, bilinear,
threshold 0.5) and mean per-image person IoU, on a labelled folder no variant was trained
or selected on, with IoU by person size (the truth's share of the frame); as in distill's
validation, an image whose truth holds no person is scored in its own bin, not in the mean
(segview eval counts it in the mean: the figures differ only on such images).

Teacher agreement: IoU of each variant's mask with the teacher's (both at 0.5, at the
frame's size) on an unlabelled pool of frames (``--pool`` folders, ``--pool-video`` clips,
read as segview distill reads a selection pool: at most 384 px, every 3rd video frame),
by person size (the teacher's share); frames where the teacher finds no person are left
out of the mean and scored in their own bin.

    python benchmarks/bench_students.py --images DEV/images --masks DEV/masks --pool POOL_DIR --pool-video clip.mp4
    python benchmarks/bench_students.py --student selfie-student-fast --rounds 2000 --json out.json

No PyTorch needed: only onnxruntime and segview.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from segview.distill.selection import SIZE_BINS, figure, score_frame
from segview.evaluation import read_truth
from segview.inference.registry import ModelRegistry
from segview.inference.session import SegmentationSession, SessionOptions
from segview.sources.image_folder import list_images
from segview.sources.spec import open_source

DEFAULT_VARIANTS = ["selfie-student-fast", "selfie-student-accurate", "selfie-general-pruned", "selfie-general-k16", "selfie-landscape"]
POOL_MAX_SIDE = 384
POOL_VIDEO_EVERY = 3


def probability(session: SegmentationSession, image: np.ndarray) -> np.ndarray:
    """The foreground probability at the image's size (bilinear), as segview eval computes it."""
    _, prob = session.postprocess(session.run(session.preprocess(image)), (image.shape[1], image.shape[0]))
    return cv2.resize(np.asarray(prob, np.float32), (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)


def speed(sessions: list[SegmentationSession], rounds: int, warmup: int) -> list[list[float]]:
    rng = np.random.default_rng(0)
    inputs = [rng.random(s.input_tensor_shape(), dtype=np.float32) for s in sessions]
    times: list[list[float]] = [[] for _ in sessions]
    for i in range(warmup + rounds):
        for k, (session, tensor) in enumerate(zip(sessions, inputs, strict=True)):
            t0 = time.perf_counter()
            session.run(tensor)
            if i >= warmup:
                times[k].append((time.perf_counter() - t0) * 1e3)
    return times


def labelled_pairs(images: Path, masks: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    by_stem = {p.stem: p for p in masks.iterdir()}
    pairs = []
    for path in list_images(images):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None or path.stem not in by_stem:
            continue
        truth = read_truth(by_stem[path.stem], (image.shape[1], image.shape[0]))
        if truth is not None:
            pairs.append((image, truth > 0))
    return pairs


def _shrink(image: np.ndarray) -> np.ndarray:
    scale = POOL_MAX_SIDE / max(image.shape[:2])
    return image if scale >= 1 else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def pool_frames(folders: list[Path], videos: list[str]) -> list[np.ndarray]:
    frames = [_shrink(im) for folder in folders for p in list_images(folder) if (im := cv2.imread(str(p), cv2.IMREAD_COLOR)) is not None]
    for spec in videos:
        source = open_source(f"file:{spec}" if Path(spec).exists() else spec)
        try:
            index = 0
            while (frame := source.read()) is not None:
                if index % POOL_VIDEO_EVERY == 0:
                    frames.append(_shrink(frame.image))
                index += 1
        finally:
            source.close()
    return frames


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--teacher", default="selfie-general")
    p.add_argument(
        "--student", action="append", default=None, metavar="M", help="a variant to compare, repeatable (default: every shipped variant that is registered)"
    )
    p.add_argument("--images", type=Path, help="labelled images no variant was tuned on")
    p.add_argument("--masks", type=Path)
    p.add_argument("--pool", type=Path, action="append", default=[], metavar="DIR", help="unlabelled frames for teacher agreement, repeatable")
    p.add_argument("--pool-video", action="append", default=[], metavar="FILE")
    p.add_argument("--rounds", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)

    registry = ModelRegistry()
    variants = args.student or [n for n in DEFAULT_VARIANTS if n in registry.names()]
    names = [args.teacher, *variants]
    sessions = [SegmentationSession(e.path, e.card, SessionOptions(threads=args.threads)) for e in map(registry.resolve, names)]
    times = speed(sessions, args.rounds, args.warmup)
    medians = [float(np.median(t)) for t in times]

    labelled: list[dict | None] = [None] * len(sessions)
    if args.images and args.masks:
        pairs = labelled_pairs(args.images, args.masks)
        for k, session in enumerate(sessions):
            scores = [score_frame(probability(session, image) > 0.5, truth) for image, truth in pairs]
            labelled[k] = figure(scores).to_json_dict("iou")
    agreement: list[dict | None] = [None] * len(sessions)
    frames = pool_frames(args.pool, args.pool_video) if args.pool or args.pool_video else []
    if frames:
        teacher_masks = [probability(sessions[0], f) > 0.5 for f in frames]
        for k, session in enumerate(sessions[1:], start=1):
            agreement[k] = figure([score_frame(probability(session, f) > 0.5, t) for f, t in zip(frames, teacher_masks, strict=True)]).to_json_dict("agreement")

    print(f"{platform.processor() or platform.machine()}; session.run, {args.threads} thread(s), {args.rounds} alternating rounds, medians")
    if frames:
        print(f"teacher agreement on {len(frames)} unlabelled frames ({', '.join(map(str, [*args.pool, *args.pool_video]))})")
    bins = "/".join(SIZE_BINS)
    print(
        f"{'model':26s} {'input':>9s} {'median ms':>9s} {'speedup':>8s} {'IoU':>7s} {'vs teacher':>10s} {'IoU ' + bins:>22s} {'agreement':>9s} {'agree ' + bins:>22s}"
    )
    rows = []
    teacher_iou = labelled[0]["iou"] if labelled[0] else None
    for k, name in enumerate(names):
        card = sessions[k].card
        lab, agr = labelled[k], agreement[k]
        delta = None if lab is None or teacher_iou is None else 100 * (lab["iou"] - teacher_iou)
        rows.append(
            {
                "model": name,
                "width": card.width,
                "height": card.height,
                "median_ms": medians[k],
                "speedup": medians[0] / medians[k],
                "labelled": lab,
                "iou_vs_teacher_points": delta,
                "agreement": agr,
            }
        )
        print(
            f"{name:26s} {card.width:>4d}x{card.height:<4d} {medians[k]:9.3f} {medians[0] / medians[k]:7.2f}x "
            f"{_value(lab, 'iou'):>7s} {'' if delta is None else f'{delta:+.2f} pt':>10s} {_bins(lab):>22s} {_value(agr, 'agreement'):>9s} {_bins(agr):>22s}"
        )
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, "rounds": args.rounds, "pool_frames": len(frames), "models": rows}, indent=2))
    return 0


def _value(fig: dict | None, key: str) -> str:
    return "" if fig is None or fig[key] is None else f"{fig[key]:.4f}"


def _bins(fig: dict | None) -> str:
    if fig is None:
        return ""
    return " ".join("-" if fig["by_size"][b]["iou"] is None else f"{fig['by_size'][b]['iou']:.3f}" for b in SIZE_BINS)


if __name__ == "__main__":
    sys.exit(main())
