"""The ``segview`` program: the studio window by default, the command-line tools by subcommand.

Lives outside both ``segview.cli`` and ``segview.ui`` so that neither has to
import the other; the GUI (and Qt) is imported only when the studio starts.
"""

from __future__ import annotations

from collections.abc import Sequence

from segview.cli.main import build_parser, guarded, run_command
from segview.startup_checks import check_studio_start


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in (None, "studio"):

        def launch(a):
            # Arguments, display and system libraries first: Qt aborts the process on the last two.
            check_studio_start(a)
            from segview.ui.app import run_studio

            return run_studio(a)

        return guarded(launch, args)
    return run_command(args)
