"""``segview devices``: cameras found on this machine, and Android phones attached over adb."""

from __future__ import annotations

import argparse

from segview.cli.table import print_table
from segview.errors import AdbError
from segview.phone.adb import find_adb
from segview.phone.devices import USB_DEBUGGING_HINT, list_phones
from segview.sources.camera import list_cameras


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("devices", help="list cameras and phones (over adb) segview can capture from")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    cameras = list_cameras()
    if cameras:
        print_table(["source", "device", "name"], [[c.source_name, c.device, c.name] for c in cameras])
    else:
        print("no cameras found (use 'demo', a video file or an image folder as the source)")
    print()
    _print_phones()
    return 0


def _print_phones() -> None:
    """Phones are listed beside cameras; adb missing or failing is said, not an error (cameras may be all one wants)."""
    try:
        phones = list_phones(find_adb())
    except AdbError as exc:  # adb missing (with how to install it) or its server failing
        print(f"phones: {exc}")
        return
    if not phones:
        print(f"no phones attached (adb lists none; to stream a phone's screen, {USB_DEBUGGING_HINT})")
        return
    rows = [[p.source_name, p.transport or "-", p.model or "-", "ready" if p.ready else (p.problem() or p.state)] for p in phones]
    print_table(["phone", "connection", "model", "state"], rows)
