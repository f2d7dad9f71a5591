"""``segview`` entry point: dispatches subcommands and turns user-facing errors into one line on stderr."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from segview import __version__
from segview.errors import SegviewError


def build_parser() -> argparse.ArgumentParser:
    from segview.cli import bench_cmd, devices_cmd, eval_cmd, models_cmd

    parser = argparse.ArgumentParser(prog="segview", description="Real-time segmentation studio and tools.")
    parser.add_argument("--version", action="version", version=f"segview {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (bench_cmd, eval_cmd, models_cmd, devices_cmd):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        # The studio arrives with its own issue; until then the default job is a benchmark on the demo clip.
        args = parser.parse_args(["bench", *(argv or [])])
    try:
        return int(args.handler(args) or 0)
    except SegviewError as exc:
        print(f"segview: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("segview: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
