#!/usr/bin/env python3
"""segview vs MediaPipe, side by side, on the same 640x480 video, in one run.

What it measures, and why
-------------------------
The project has two speed targets for the general selfie model
(MediaPipe's 256x256 ``selfie_segmentation`` converted to ONNX):

1. ``segview bench`` FPS >= 1.5 x the FPS of MediaPipe 0.10.14's own
   ``mp.solutions.selfie_segmentation`` (model_selection=0) doing the same job:
   decode the file, segment each frame, threshold to a binary mask at frame
   resolution;
2. segview's end-to-end FPS >= 0.9 x 1 / (median raw ``session.run`` time of the
   same ONNX model): the pipeline (decode, pre/postprocess, threads) should
   cost little beyond the model itself. "Pipeline efficiency" below is that
   ratio.

Both programs run as subprocesses, one after the other, alternating which goes
first each round, so slow drifts of a noisy machine hit both alike; the
summary uses medians over the rounds. On a shared machine other processes
can take a whole core for seconds, which halves a two-core pipeline's FPS but
barely touches single-threaded MediaPipe; so each measurement first waits
(``--wait-idle``) for the CPU to be idle, each round reports the cores other
processes used meanwhile, and medians over the undisturbed rounds are shown
too. MediaPipe runs in its own virtual environment (``mediapipe_runner.py``,
``requirements-mediapipe.txt``) because its numpy/protobuf pins conflict with
segview's. The raw ``session.run`` time
is measured in this process (onnxruntime, default session options, CPU),
before and after the rounds.

    python benchmarks/bench_vs_mediapipe.py --rounds 5 --frames 600
    python benchmarks/bench_vs_mediapipe.py --segview-args "--workers 2 --threads 1" --json /tmp/vs.json
    (one option alone needs the = form: --segview-args=--workers=3)
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_VIDEO = Path("/work/shared/data/videos/asl-again.mkv")
DEFAULT_MP_PYTHON = Path("/tmp/mp-venv/bin/python")
MODEL_NAME = "selfie-general"
EXPECTED_SIZE = (640, 480)
RAW_RUNS = 300
RAW_WARMUP = 30
TARGET_VS_MEDIAPIPE = 1.5
TARGET_EFFICIENCY = 0.9
QUIET_LOAD = 0.25  # cores used by other processes below which a run counts as undisturbed


@dataclass
class Round:
    index: int
    order: tuple[str, str]
    segview: dict = field(default_factory=dict)
    mediapipe: dict = field(default_factory=dict)


# -- setup ---------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="segview bench FPS vs MediaPipe selfie_segmentation, side by side.")
    p.add_argument(
        "--video", type=Path, default=DEFAULT_VIDEO if DEFAULT_VIDEO.exists() else None, help=f"640x480 video file (default: {DEFAULT_VIDEO} if present)"
    )
    p.add_argument("--rounds", type=int, default=5, help="rounds, each runs both (default 5)")
    p.add_argument("--frames", type=int, default=600, help="measured frames per run (default 600)")
    p.add_argument("--warmup", type=int, default=20, help="unmeasured frames first, for both (default 20)")
    p.add_argument("--mediapipe-python", type=Path, default=DEFAULT_MP_PYTHON, help=f"python of MediaPipe's venv (default {DEFAULT_MP_PYTHON})")
    p.add_argument("--segview-args", default="", help='extra "segview bench" options, e.g. "--workers 2 --threads 1"')
    p.add_argument("--model", type=Path, default=None, help=f"ONNX file (default: segview's {MODEL_NAME})")
    p.add_argument("--json", type=Path, default=None, help="also write a JSON summary here")
    p.add_argument(
        "--wait-idle",
        type=float,
        default=30.0,
        metavar="S",
        help="before each measurement, wait up to S seconds for other processes to leave the CPU idle (default 30; 0: don't wait)",
    )
    args = p.parse_args(argv)
    if args.video is None:
        p.error(f"--video is required ({DEFAULT_VIDEO} is not present)")
    if args.rounds < 1 or args.frames < 2:
        p.error("--rounds must be >= 1 and --frames >= 2")
    return args


def check_video(path: Path) -> None:
    """Both sides must decode the same 640x480 file."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    ok, frame = cap.read()
    cap.release()
    if not ok:
        raise SystemExit(f"cannot decode {path}")
    size = (frame.shape[1], frame.shape[0])
    if size != EXPECTED_SIZE:
        raise SystemExit(f"{path} is {size[0]}x{size[1]}; this benchmark needs a {EXPECTED_SIZE[0]}x{EXPECTED_SIZE[1]} video")


def resolve_model(path: Path | None) -> Path:
    if path is not None:
        return path
    from segview.inference.registry import ModelRegistry

    return ModelRegistry().resolve(MODEL_NAME).path


# -- raw onnxruntime -----------------------------------------------------------


def raw_session_run_ms(model: Path, runs: int = RAW_RUNS, warmup: int = RAW_WARMUP) -> list[float]:
    """Times of bare ``session.run`` on one fixed input, default session options (CPU)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in inp.shape]
    tensor = np.random.default_rng(0).random(shape, dtype=np.float32)
    feed = {inp.name: tensor}
    for _ in range(warmup):
        session.run(None, feed)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - t0) * 1e3)
    return times


# -- the two contenders --------------------------------------------------------


def run_segview(args: argparse.Namespace, model: Path, tmp: Path) -> dict:
    cmd = [sys.executable, "-m", "segview", "bench", "--source", f"file:{args.video}", "--model", str(model)]
    report, background = run_for_report(cmd, args, tmp / "segview.json", "segview bench", extra=shlex.split(args.segview_args))
    m = report["models"][0]
    return {
        "fps": m["fps"],
        "background_cores": background,
        "cpu_percent": report["process"]["cpu_percent"],
        "latency_p50_ms": m["latency_ms"]["p50"],
        "inference_p50_ms": m["inference_ms"]["p50"],
        "stage_medians_ms": m["stage_medians_ms"],
        "settings": report["settings"],
    }


def run_mediapipe(args: argparse.Namespace, tmp: Path) -> dict:
    cmd = [str(args.mediapipe_python), str(HERE / "mediapipe_runner.py"), "--video", str(args.video)]
    result, background = run_for_report(cmd, args, tmp / "mediapipe.json", "mediapipe_runner")
    return {"fps": result["fps"], "background_cores": background, "latency_p50_ms": result["latency_ms"]["p50"]}


def run_for_report(cmd: list[str], args: argparse.Namespace, out: Path, what: str, extra: Sequence[str] = ()) -> tuple[dict, float | None]:
    """``cmd`` with the frame count, warm-up and JSON file both contenders take (then ``extra``, which may override
    them): the JSON it wrote and the other processes' load meanwhile."""
    background = run_quietly([*cmd, "--frames", str(args.frames), "--warmup", str(args.warmup), "--json", str(out), *extra], what)
    return json.loads(out.read_text()), background


def run_quietly(cmd: list[str], what: str) -> float | None:
    """Run to the end; returns the other processes' CPU load meanwhile (cores busy), None if unknown."""
    busy0, child0, t0 = machine_busy_s(), children_cpu_s(), time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    busy1, child1, t1 = machine_busy_s(), children_cpu_s(), time.perf_counter()
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-4000:])
        raise SystemExit(f"{what} failed (exit {proc.returncode}): {shlex.join(cmd)}")
    if busy0 is None or busy1 is None:
        return None
    return max(0.0, ((busy1 - busy0) - (child1 - child0)) / (t1 - t0))


def machine_busy_s() -> float | None:
    """CPU seconds all cores have been busy since boot (Linux /proc/stat), None elsewhere."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def children_cpu_s() -> float:
    t = os.times()
    return t.children_user + t.children_system


def wait_for_idle(limit_s: float, probe_s: float = 0.5) -> None:
    """On a shared machine: wait (up to limit_s) until other processes use less than QUIET_LOAD cores."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        b0, t0 = machine_busy_s(), time.perf_counter()
        time.sleep(probe_s)
        b1 = machine_busy_s()
        if b0 is None or b1 is None or (b1 - b0) / (time.perf_counter() - t0) < QUIET_LOAD:
            return


def run_rounds(args: argparse.Namespace, model: Path) -> list[Round]:
    runners = {"segview": lambda tmp: run_segview(args, model, tmp), "mediapipe": lambda tmp: run_mediapipe(args, tmp)}
    rounds = []
    with tempfile.TemporaryDirectory(prefix="segview-vs-mp-") as tmpdir:
        for i in range(args.rounds):
            order = ("segview", "mediapipe") if i % 2 == 0 else ("mediapipe", "segview")
            r = Round(i + 1, order)
            for name in order:
                wait_for_idle(args.wait_idle)
                setattr(r, name, runners[name](Path(tmpdir)))
            print(f"  round {r.index}: {order[0]:<9} first   segview {r.segview['fps']:7.1f} FPS   mediapipe {r.mediapipe['fps']:7.1f} FPS", flush=True)
            rounds.append(r)
    return rounds


# -- summary -------------------------------------------------------------------


def summarise(args: argparse.Namespace, model: Path, rounds: list[Round], raw_before: list[float], raw_after: list[float]) -> dict:
    sv = statistics.median(r.segview["fps"] for r in rounds)
    mp = statistics.median(r.mediapipe["fps"] for r in rounds)
    raw_ms = statistics.median(raw_before + raw_after)
    raw_fps = 1e3 / raw_ms
    stages = {k: round(statistics.median(r.segview["stage_medians_ms"][k] for r in rounds), 3) for k in rounds[0].segview["stage_medians_ms"]}
    return {
        "video": str(args.video),
        "model": str(model),
        "frames": args.frames,
        "warmup": args.warmup,
        "segview_args": args.segview_args,
        "segview_settings": rounds[0].segview["settings"],
        "rounds": [{"round": r.index, "first": r.order[0], "segview": r.segview, "mediapipe": r.mediapipe} for r in rounds],
        "segview_fps_median": sv,
        "mediapipe_fps_median": mp,
        "ratio_segview_over_mediapipe": sv / mp,
        "segview_latency_p50_ms_median": statistics.median(r.segview["latency_p50_ms"] for r in rounds),
        "mediapipe_latency_p50_ms_median": statistics.median(r.mediapipe["latency_p50_ms"] for r in rounds),
        "segview_stage_medians_ms": stages,
        "raw_session_run_ms": {"before": statistics.median(raw_before), "after": statistics.median(raw_after), "all": raw_ms},
        "raw_session_run_fps": raw_fps,
        "pipeline_efficiency": sv / raw_fps,
        "quiet_rounds": quiet_summary(rounds, raw_fps),
        "targets": {"vs_mediapipe": TARGET_VS_MEDIAPIPE, "pipeline_efficiency": TARGET_EFFICIENCY},
    }


def quiet_summary(rounds: list[Round], raw_fps: float) -> dict:
    """The same medians over the rounds in which other processes left both runs alone."""

    def quiet(result: dict) -> bool:
        return result["background_cores"] is not None and result["background_cores"] < QUIET_LOAD

    picked = [r for r in rounds if quiet(r.segview) and quiet(r.mediapipe)]
    if not picked:
        return {"rounds": []}
    sv = statistics.median(r.segview["fps"] for r in picked)
    mp = statistics.median(r.mediapipe["fps"] for r in picked)
    return {"rounds": [r.index for r in picked], "segview_fps_median": sv, "mediapipe_fps_median": mp, "ratio": sv / mp, "pipeline_efficiency": sv / raw_fps}


def print_summary(s: dict) -> None:
    print()
    print(f"{'round':>5}  {'first':<9}  {'segview FPS':>11}  {'MediaPipe FPS':>13}  {'ratio':>6}  {'segview CPU':>11}  {'other load sv/mp':>16}")
    for r in s["rounds"]:
        sv, mp = r["segview"], r["mediapipe"]
        load = f"{cores(sv['background_cores'])}/{cores(mp['background_cores'])}"
        print(
            f"{r['round']:>5}  {r['first']:<9}  {sv['fps']:>11.1f}  {mp['fps']:>13.1f}  {sv['fps'] / mp['fps']:>6.2f}  {sv['cpu_percent']:>10.0f}%  {load:>16}"
        )
    print(f"{'median':>5}  {'':<9}  {s['segview_fps_median']:>11.1f}  {s['mediapipe_fps_median']:>13.1f}")
    quiet = s["quiet_rounds"]
    if quiet["rounds"]:
        print(
            f"quiet rounds only (other load < {QUIET_LOAD} core for both; {len(quiet['rounds'])} of {len(s['rounds'])}): "
            f"segview {quiet['segview_fps_median']:.1f}, MediaPipe {quiet['mediapipe_fps_median']:.1f}, "
            f"ratio {quiet['ratio']:.2f}x, efficiency {quiet['pipeline_efficiency']:.2f}"
        )
    print()
    st = s["segview_settings"]
    print(
        f"segview: workers {st['workers']} x {st['threads_per_run']} thread(s); median latency p50 "
        f"{s['segview_latency_p50_ms_median']:.2f} ms; median stage ms: "
        + " ".join(f"{k.removesuffix('_ms')} {v:.2f}" for k, v in s["segview_stage_medians_ms"].items())
    )
    print(
        "(segview CPU: the bench process's own use, 100% = one core; other load: cores kept busy by other\n"
        " processes while each ran; a round with other load near 1 core is starved, not slow)"
    )
    print(f"MediaPipe: median latency p50 {s['mediapipe_latency_p50_ms_median']:.2f} ms")
    ratio = s["ratio_segview_over_mediapipe"]
    print(f"ratio of medians segview / MediaPipe: {ratio:.2f}x  (target >= {TARGET_VS_MEDIAPIPE}x: {verdict(ratio >= TARGET_VS_MEDIAPIPE)})")
    raw = s["raw_session_run_ms"]
    print(
        f"raw session.run median: {raw['before']:.3f} ms before, {raw['after']:.3f} ms after, {raw['all']:.3f} ms overall "
        f"= {s['raw_session_run_fps']:.1f} runs/s"
    )
    eff = s["pipeline_efficiency"]
    print(f"pipeline efficiency segview FPS / (1 / raw run): {eff:.2f}  (target >= {TARGET_EFFICIENCY}: {verdict(eff >= TARGET_EFFICIENCY)})")


def cores(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_video(args.video)
    if not args.mediapipe_python.exists():
        raise SystemExit(f"{args.mediapipe_python} not found; create MediaPipe's venv (see benchmarks/README.md)")
    model = resolve_model(args.model)
    print(
        f"video {args.video}  model {model.name}  {args.rounds} rounds x {args.frames} frames (+{args.warmup} warm-up)"
        f"  segview args: {args.segview_args or '(defaults)'}",
        flush=True,
    )
    wait_for_idle(args.wait_idle)
    raw_before = raw_session_run_ms(model)
    print(f"  raw session.run before: median {statistics.median(raw_before):.3f} ms", flush=True)
    rounds = run_rounds(args, model)
    wait_for_idle(args.wait_idle)
    raw_after = raw_session_run_ms(model)
    print(f"  raw session.run after:  median {statistics.median(raw_after):.3f} ms", flush=True)
    summary = summarise(args, model, rounds, raw_before, raw_after)
    print_summary(summary)
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
