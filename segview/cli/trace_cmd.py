"""``segview trace SESSION_DIR [-o trace.json]``: a recorded session's timeline, for Perfetto or chrome://tracing."""

from __future__ import annotations

import argparse
from pathlib import Path

from segview.recording.session_file import FRAMES_FILE
from segview.recording.trace_export import TRACE_FILE, write_trace


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "trace",
        help="export a recorded session as a timeline trace (Perfetto, chrome://tracing)",
        description="Write a recorded session's stages per frame and model, on the threads that ran them, "
        "and its FPS, CPU, memory, clock and power counters, as a Chrome JSON trace that "
        "ui.perfetto.dev and chrome://tracing open.",
    )
    p.add_argument("session", type=Path, metavar="SESSION_DIR", help="a folder written by --record")
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help=f"where to write (default: SESSION_DIR/{TRACE_FILE})")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    out = args.output or args.session / TRACE_FILE
    counts = write_trace(args.session, out)
    tracks = "one track per worker" if counts.per_worker else "one track per model (the session predates worker columns)"
    print(
        f"wrote {out}: {counts.rows} {FRAMES_FILE} rows of {counts.frames} frames as {counts.stage_spans} stage spans, "
        f"{counts.queue_spans} queue spans and {counts.capture_spans} capture spans ({tracks}), "
        f"{counts.counter_events} counter points"
    )
    print("open it in ui.perfetto.dev or chrome://tracing (Load)")
    return 0
