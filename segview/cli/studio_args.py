"""Options of the studio window (``segview`` alone, or ``segview studio``). Parsing only: the window is in segview.ui."""

from __future__ import annotations

import argparse
from pathlib import Path

from segview.cli.numbers import MAX_WORKERS, seconds, whole


def add_studio_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", default=None, help="source to open (default: the last one, else the first camera, else demo)")
    p.add_argument(
        "--model", action="append", dest="models", metavar="MODEL", help="model to run; repeat for up to four (default: the last ones, else selfie-general)"
    )
    p.add_argument("--duration", type=seconds(), default=None, metavar="SECONDS", help="run this long, then write the recording and exit (scripted profiling)")
    p.add_argument("--record", type=Path, default=None, metavar="DIR", help="record the session into DIR (frames, per-second metrics, summary.json)")
    p.add_argument("--screenshot", type=Path, default=None, metavar="PNG", help="with --duration: save a screenshot of the window before exiting")
    p.add_argument(
        "--overlay", default=None, choices=["blend", "outline", "blur", "replace", "mask", "original"], help="overlay mode (default: the last one used)"
    )
    p.add_argument("--workers", type=whole(1, MAX_WORKERS), default=None, help="frames in flight at once (default: number of cores)")
    p.add_argument("--provider", default="cpu", help="onnxruntime execution provider (default cpu)")
    p.add_argument("--size", type=window_size, default=None, metavar="WxH", help="window size in pixels, e.g. 1280x720 (default: fits the screen)")


def window_size(text: str) -> tuple[int, int]:
    """'1280x720' -> (1280, 720)."""
    w, sep, h = text.lower().partition("x")
    if not (sep and w.strip().isdigit() and h.strip().isdigit()) or not (320 <= int(w) <= 16384 and 240 <= int(h) <= 16384):
        raise argparse.ArgumentTypeError(f"{text!r} is not a window size like 1280x720")
    return int(w), int(h)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("studio", help="open the studio window (the default)")
    add_studio_options(p)
