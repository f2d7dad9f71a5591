"""``segview models``: what the registry finds, and why files were rejected."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from segview.cli.table import print_table
from segview.inference.registry import ModelRegistry

# The registry's "name (2)": a later file whose card claims a name already taken.
SECOND_OF_A_NAME = re.compile(r" \((\d+)\)$")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the models segview can run")
    p.add_argument("paths", nargs="*", type=Path, help="extra model files or folders to inspect")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    registry = ModelRegistry()
    for path in args.paths:
        if path.is_dir():
            registry.add_folder(path)
        else:
            registry.add_file(path)
    rows = []
    for e in registry.entries():
        c = e.card
        kind = f"{c.output_kind}, {len(c.classes)} classes" if not c.is_binary else c.output_kind
        rows.append([e.name, f"{c.width}x{c.height}", c.layout, c.color_order, kind, f"{e.size_bytes / 1024:.0f} KiB", c.origin, str(e.path)])
    print_table(["model", "input", "layout", "colour", "output", "size", "card", "path"], rows)
    for e in registry.entries():
        match = SECOND_OF_A_NAME.search(e.name)
        if match and e.name[: match.start()] in registry.names():
            first = registry.resolve(e.name[: match.start()])
            print(f"{e.name}: a second model named {first.name!r} (the first is {first.path}); rename its card to give it a name of its own")
    for rejected in registry.rejected:
        print(f"skipped {rejected.path}: {rejected.reason}")
    return 0
