"""Options of the studio window (``segview`` alone, or ``segview studio``). Parsing only: the window is in segview.ui."""

from __future__ import annotations

import argparse
from pathlib import Path

from segview.cli.numbers import MAX_WORKERS, seconds, whole


def add_studio_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", default=None, help="source to open (default: the last one, else the first camera, else demo)")
    p.add_argument("--model", action="append", dest="models", metavar="MODEL", help="model to run; repeat for up to four (default: the last ones, else selfie-general)")
    p.add_argument("--duration", type=seconds(), default=None, metavar="SECONDS", help="run this long, then write the recording and exit (scripted profiling)")
    p.add_argument("--record", type=Path, default=None, metavar="DIR", help="record the session into DIR (frames, per-second metrics, summary.json)")
    p.add_argument("--screenshot", type=Path, default=None, metavar="PNG", help="with --duration: save a screenshot of the window before exiting")
    p.add_argument("--overlay", default=None, choices=["blend", "outline", "blur", "replace", "mask", "original"], help="overlay mode (default: the last one used)")
    p.add_argument("--workers", type=whole(1, MAX_WORKERS), default=None, help="frames in flight at once (default: number of cores)")
    p.add_argument("--provider", default="cpu", help="onnxruntime execution provider (default cpu)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("studio", help="open the studio window (the default)")
    add_studio_options(p)
