"""Argument parsing for every ``segview`` subcommand, and the error policy: a user-facing
problem is one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from segview import __version__
from segview.errors import SegviewError


def build_parser() -> argparse.ArgumentParser:
    from segview.cli import bench_cmd, compress_cmd, devices_cmd, distill_cmd, eval_cmd, models_cmd, studio_args

    parser = argparse.ArgumentParser(prog="segview", description="Real-time segmentation studio and tools. With no command, opens the studio.")
    parser.add_argument("--version", action="version", version=f"segview {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (studio_args, bench_cmd, eval_cmd, models_cmd, devices_cmd, distill_cmd, compress_cmd):
        module.register(sub)
    studio_args.add_studio_options(parser)
    return parser


def guarded(handler: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    try:
        return int(handler(args) or 0)
    except SegviewError as exc:
        print(f"segview: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("segview: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1


def run_command(args: argparse.Namespace) -> int:
    return guarded(args.handler, args)


def main(argv: Sequence[str] | None = None) -> int:
    """The command-line tools alone (the studio needs segview.launcher)."""
    args = build_parser().parse_args(argv)
    if args.command in (None, "studio"):
        print("segview: error: the studio starts from the 'segview' program (segview.launcher)", file=sys.stderr)
        return 2
    return run_command(args)
