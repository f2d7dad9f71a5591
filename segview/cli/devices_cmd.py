"""``segview devices``: cameras found on this machine."""

from __future__ import annotations

import argparse

from segview.cli.table import print_table
from segview.sources.camera import list_cameras


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("devices", help="list cameras (and, later, phones) segview can capture from")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    cameras = list_cameras()
    if not cameras:
        print("no cameras found (use 'demo', a video file or an image folder as the source)")
        return 0
    print_table(["source", "device", "name"], [[c.source_name, c.device, c.name] for c in cameras])
    return 0
