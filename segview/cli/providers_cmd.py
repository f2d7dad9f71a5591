"""``segview providers``: onnxruntime's execution providers on this machine, and the inference engines
segview can sweep (``segview bench --engine``), with the line that installs a missing one."""

from __future__ import annotations

import argparse

from segview.cli.table import print_table
from segview.inference.engines import ENGINES
from segview.inference.providers import available_providers, short_name


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("providers", help="list onnxruntime's execution providers here and the engines bench can sweep")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    print_table(["provider (--provider)", "onnxruntime name"], [[short_name(p), p] for p in available_providers()])
    print()
    rows = []
    for name, engine in ENGINES.items():
        present = engine.available()
        rows.append([name, engine.version() if present else "-", "present" if present else engine.absent_reason()])
    print_table(["engine (--engine)", "version", "state"], rows)
    return 0
