#!/usr/bin/env python3
"""MediaPipe's own selfie segmentation on a video file: the baseline segview is compared with.

Runs under MediaPipe's virtual environment, not segview's (see
requirements-mediapipe.txt): it imports nothing from segview.

Each frame goes through what an application using MediaPipe's Python
solution would do, and what ``segview bench`` does, so both sides end with a
binary uint8 mask at frame resolution:

    cv2.VideoCapture.read() -> BGR->RGB -> SelfieSegmentation(model_selection=0).process()
    -> segmentation_mask > 0.5 -> uint8 mask

The file is looped (reopened at its end) until warm-up + measured frames are
done, as ``segview bench`` loops a file source. Warm-up frames are not
measured. FPS = measured frames / wall time of the measured part (decode
included); latency = per-frame time from the decoded frame to the mask.

    /tmp/mp-venv/bin/python benchmarks/mediapipe_runner.py --video V --frames 600 --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import mediapipe as mp
import numpy as np

THRESHOLD = 0.5


class LoopingVideo:
    """Frames of a video file, restarting at the end (reopened: seeking is unreliable for some containers)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.loops = 0
        self._cap = self._open()

    def _open(self) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise SystemExit(f"mediapipe_runner: cannot open {self.path}")
        return cap

    def read(self) -> np.ndarray:
        ok, frame = self._cap.read()
        if not ok:
            self._cap.release()
            self._cap = self._open()
            self.loops += 1
            ok, frame = self._cap.read()
            if not ok:
                raise SystemExit(f"mediapipe_runner: no frames in {self.path}")
        return frame

    def close(self) -> None:
        self._cap.release()


def segment(model, bgr: np.ndarray) -> np.ndarray:
    """BGR frame -> binary uint8 mask at the frame's resolution."""
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    result = model.process(rgb)
    return (result.segmentation_mask > THRESHOLD).view(np.uint8)


def run(video: Path, frames: int, warmup: int) -> dict[str, object]:
    source = LoopingVideo(video)
    latencies_ms: list[float] = []
    foreground = 0.0
    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as model:
        for _ in range(warmup):
            segment(model, source.read())
        start = time.perf_counter()
        for _ in range(frames):
            bgr = source.read()
            t0 = time.perf_counter()
            mask = segment(model, bgr)
            latencies_ms.append((time.perf_counter() - t0) * 1e3)
            foreground += float(mask.mean())
        wall_s = time.perf_counter() - start
        shape = list(mask.shape)
    source.close()
    return {
        "runner": "mediapipe.solutions.selfie_segmentation",
        "mediapipe_version": mp.__version__,
        "model_selection": 0,
        "video": str(video),
        "frames": frames,
        "warmup_frames": warmup,
        "wall_s": round(wall_s, 4),
        "fps": round(frames / wall_s, 3),
        "latency_ms": percentiles(latencies_ms),
        "mask_shape": shape,
        "mean_foreground_fraction": round(foreground / frames, 4),
        "loops": source.loops,
    }


def percentiles(values: list[float]) -> dict[str, float]:
    p50, p95, p99 = np.percentile(np.asarray(values), [50, 95, 99])
    return {"p50": round(float(p50), 3), "p95": round(float(p95), 3), "p99": round(float(p99), 3)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--video", type=Path, required=True)
    p.add_argument("--frames", type=int, default=600, help="measured frames (default 600)")
    p.add_argument("--warmup", type=int, default=20, help="frames run first and not measured (default 20)")
    p.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = p.parse_args(argv)
    result = run(args.video, args.frames, args.warmup)
    lat = result["latency_ms"]
    print(
        f"mediapipe {result['mediapipe_version']}: {result['frames']} frames in {result['wall_s']:.2f} s = "
        f"{result['fps']:.1f} FPS, latency p50 {lat['p50']:.2f} ms"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
