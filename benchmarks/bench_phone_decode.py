"""Phone screen decoding and the phone source end to end, with the fake adb from tests/fake_adb.

Three measurements, alternated over ``--rounds`` rounds (the machine is
shared and noisy), each reported as the median of its rounds:

1. Decode throughput on one core: a 720x1280 H.264 stream (a scrolling,
   phone-like screen, libx264 at ``--bit-rate``, 20 Mbit/s by default as screenrecord's, a keyframe every second) fed
   in 64 KiB pieces, as the pipe delivers it, to PyAV's parser and decoder
   (``CodecContext.create('h264', 'r')``, ``thread_count=1``), the process
   pinned to one core. Reported decode only, and decode plus conversion to
   BGR (what the source does for each frame the pipeline takes).
   Target: >= 60 frames/s.
2. Added latency through the phone stream: the fake adb sends the same
   stream at 60 frames/s and logs when it wrote each frame; the stream's
   decode thread hands out frames; latency = handed out - written (wall
   clock, same machine). Also the stream's own host-side figure (bytes that
   complete a frame arrived -> frame decoded).
3. ``segview bench --source adb --model selfie-general`` FPS with the fake
   phone (720x1280 at 60 frames/s) first on PATH.

Usage:
    python benchmarks/bench_phone_decode.py [--rounds 5] [--frames 240] [--bench-frames 300]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fake_adb.fakephone import SERIAL, FakePhone, encode_annexb, screen_frames  # noqa: E402


def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        core = sorted(os.sched_getaffinity(0))[-1]
        os.sched_setaffinity(0, {core})
        return f"pinned to core {core}"
    return "not pinned (no sched_setaffinity here)"


def decode_pass(data: bytes, *, to_bgr: bool) -> tuple[int, float]:
    ctx = av.CodecContext.create("h264", "r")
    ctx.thread_count = 1
    ctx.thread_type = "NONE"
    frames = 0
    started = time.perf_counter()
    for offset in range(0, len(data), 1 << 16):
        for packet in ctx.parse(data[offset : offset + (1 << 16)]):
            for frame in ctx.decode(packet):
                if to_bgr:
                    frame.to_ndarray(format="bgr24")
                frames += 1
    for packet in ctx.parse(b""):
        for frame in ctx.decode(packet):
            if to_bgr:
                frame.to_ndarray(format="bgr24")
            frames += 1
    for _frame in ctx.decode(None):  # the frames the decoder still held
        frames += 1
    return frames, time.perf_counter() - started


def latency_pass(phone: FakePhone, log: Path, seconds: float) -> tuple[list[float], float | None, int]:
    """Wall-clock ms from the fake writing each frame to the stream handing it out; and the stream's own figure."""
    from segview.phone.adb import find_adb
    from segview.phone.screen import ScreenStream

    log.unlink(missing_ok=True)
    phone.set_stream(frames_log=str(log), stop_after_frames=None)
    stream = ScreenStream(find_adb(), SERIAL)
    handed: dict[int, float] = {}
    stream.start()
    try:
        seq = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            got = stream.wait_frame(seq, 0.5)
            if got is not None:
                seq = got[0]
                handed[seq] = time.time()
        stats = stream.stats()
    finally:
        stream.close()
        phone.set_stream(frames_log=None)
    written = [float(line) for line in log.read_text().split()]
    latencies = [(t - written[s - 1]) * 1e3 for s, t in handed.items() if s - 1 < len(written)]
    return latencies, stats.decode_latency_ms, stats.restarts


def bench_fps(phone: FakePhone, frames: int, workdir: Path) -> dict:
    out = workdir / "bench.json"
    cmd = [sys.executable, "-m", "segview", "bench", "--source", "adb", "--model", "selfie-general", "--frames", str(frames), "--json", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=phone.env())
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr}")
    report = json.loads(out.read_text())
    model = report["models"][0]
    return {"fps": model["fps"], "p50_ms": model["latency_ms"]["p50"], "dropped": report["frames_dropped"], "cpu": report["process"]["cpu_percent"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--frames", type=int, default=240, help="frames in the 720x1280 test stream")
    parser.add_argument("--bit-rate", type=int, default=20_000_000, help="bits per second (screenrecord's default is 20M)")
    parser.add_argument("--latency-seconds", type=float, default=4.0)
    parser.add_argument("--bench-frames", type=int, default=300)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="segview-phone-bench-") as tmp:
        workdir = Path(tmp)
        print(f"encoding {args.frames} frames of 720x1280 at {args.bit_rate / 1e6:g} Mbit/s ...", flush=True)
        stream_path = encode_annexb([screen_frames(args.frames)], workdir / "screen.h264", fps=60, gop=60, bit_rate=args.bit_rate)
        data = stream_path.read_bytes()
        print(f"stream: {len(data) / 1e6:.1f} MB, {len(data) * 8 / (args.frames / 60) / 1e6:.1f} Mbit/s at 60 frames/s")
        phone = FakePhone(workdir / "fake-adb", stream_path, fps=60)
        os.environ.update(phone.env())  # the fake adb first on PATH, here and in the children

        decode, decode_bgr, latency_p50, latency_p95, host_latency, bench = [], [], [], [], [], []
        for round_ in range(1, args.rounds + 1):
            # Decoding runs in a child pinned to one core, so the parent's threads are not pinned.
            code = (  # noqa: UP031 - the child's code holds dict braces, which %-formatting leaves plain
                "import sys, json; sys.path.insert(0, %r); import bench_phone_decode as b; "
                "where = b.pin_to_one_core(); data = open(%r, 'rb').read(); "
                "n, t = b.decode_pass(data, to_bgr=False); m, u = b.decode_pass(data, to_bgr=True); "
                "print(json.dumps({'where': where, 'decode': n / t, 'bgr': m / u}))"
            ) % (str(Path(__file__).parent), str(stream_path))
            child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            one_core = json.loads(child.stdout)
            decode.append(one_core["decode"])
            decode_bgr.append(one_core["bgr"])
            latencies, host, restarts = latency_pass(phone, workdir / "frames.log", args.latency_seconds)
            latencies.sort()
            latency_p50.append(statistics.median(latencies))
            latency_p95.append(latencies[int(0.95 * (len(latencies) - 1))])
            host_latency.append(host)
            result = bench_fps(phone, args.bench_frames, workdir)
            bench.append(result["fps"])
            print(
                f"round {round_}: decode {one_core['decode']:.0f} fr/s, decode+BGR {one_core['bgr']:.0f} fr/s ({one_core['where']}); "
                f"latency written->handed out p50 {latency_p50[-1]:.1f} ms p95 {latency_p95[-1]:.1f} ms "
                f"(host: bytes->frame {host:.1f} ms, {len(latencies)} frames); "
                f"bench FPS {result['fps']:.1f} (p50 {result['p50_ms']:.1f} ms, dropped {result['dropped']}, CPU {result['cpu']:.0f}%)",
                flush=True,
            )

    med = statistics.median
    print()
    print(
        f"decode throughput, 720x1280, one core (median of {args.rounds}): {med(decode):.0f} frames/s decode only, "
        f"{med(decode_bgr):.0f} frames/s with BGR conversion  (target >= 60: {'met' if med(decode_bgr) >= 60 else 'NOT met'})"
    )
    print(
        f"added latency, fake phone at 60 frames/s (median of {args.rounds}): p50 {med(latency_p50):.1f} ms, p95 {med(latency_p95):.1f} ms; "
        f"host bytes->frame {med(host_latency):.1f} ms"
    )
    print(f"segview bench --source adb --model selfie-general (median of {args.rounds}): {med(bench):.1f} FPS")


if __name__ == "__main__":
    main()
