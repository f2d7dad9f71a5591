"""Argument parsing for every ``segview`` subcommand, and the error policy: a user-facing
problem is one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from segview import __version__
from segview.errors import SegviewError
from segview.interrupts import Terminated


class CommandParser(argparse.ArgumentParser):
    """argparse, but a mistake is one line from the (sub)command it concerns, with a guess.

    Subcommands parse with ``parse_known_args``, so argparse's own check for unknown
    options runs on the top-level parser and prints *its* usage for ``bench --sorce``;
    :meth:`parse_args` hands unknown options back to the subcommand they were given to.
    Subparsers are built from this class too (argparse uses the parent's type).
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}{_choice_hint(message)}\n")

    def parse_args(self, args=None, namespace=None):  # noqa: ANN001, ANN201 - argparse's signature
        args = list(sys.argv[1:] if args is None else args)
        self._check_options_before_command(args)
        known, extras = self.parse_known_args(args, namespace)
        if extras:
            parser = self._command_parser(getattr(known, "command", None)) or self
            parser.error(f"unrecognized arguments: {' '.join(extras)}{parser._option_hint(extras)}")
        return known

    def _command_parser(self, command: str | None) -> CommandParser | None:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction) and command in action.choices:
                parser = action.choices[command]
                # Always a CommandParser (argparse builds subparsers with the parent's class); checked for the type.
                return parser if isinstance(parser, CommandParser) else None
        return None

    def _check_options_before_command(self, args: Sequence[str]) -> None:
        """``segview --sorce demo``: argparse would take 'demo' for a command; name the option instead."""
        commands = next((a.choices for a in self._actions if isinstance(a, argparse._SubParsersAction)), None)
        if not commands:
            return
        options = [o for a in self._actions for o in a.option_strings if o.startswith("--")]
        for token in args:
            if token in commands or token == "--":
                return
            name = token.split("=", 1)[0]
            # A prefix of a known option is argparse's abbreviation: leave it to argparse.
            if name.startswith("--") and not any(o.startswith(name) for o in options):
                self.error(f"unrecognized arguments: {token}{self._option_hint([token])}")

    def _option_hint(self, extras: Sequence[str]) -> str:
        options = [o for a in self._actions for o in a.option_strings if o.startswith("--")]
        for extra in extras:
            if extra.startswith("--"):
                match = difflib.get_close_matches(extra.split("=", 1)[0], options, n=1)
                if match:
                    return f"; did you mean {match[0]}?"
        return ""


def _choice_hint(message: str) -> str:
    """ "; did you mean bench?" for argparse's "invalid choice: 'bnech' (choose from ...)"."""
    found = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if not found:
        return ""
    match = difflib.get_close_matches(found.group(1), re.findall(r"'([^']*)'", found.group(2)), n=1)
    return f"; did you mean {match[0]}?" if match else ""


def build_parser() -> argparse.ArgumentParser:
    from segview.cli import (
        bench_cmd,
        compress_cmd,
        devices_cmd,
        distill_cmd,
        eval_cmd,
        inspect_cmd,
        models_cmd,
        profile_cmd,
        providers_cmd,
        studio_args,
        trace_cmd,
    )

    parser = CommandParser(prog="segview", description="Real-time segmentation studio and tools. With no command, opens the studio.")
    parser.add_argument("--version", action="version", version=f"segview {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (studio_args, bench_cmd, eval_cmd, models_cmd, devices_cmd, distill_cmd, compress_cmd, profile_cmd, trace_cmd, inspect_cmd, providers_cmd):
        module.register(sub)
    studio_args.add_studio_options(parser)
    return parser


def guarded(handler: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    try:
        return int(handler(args) or 0)
    except SegviewError as exc:
        print(f"segview: error: {exc}", file=sys.stderr)
        return 2
    except Terminated:
        print("segview: terminated", file=sys.stderr)
        return 143
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
