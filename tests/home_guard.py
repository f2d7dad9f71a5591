"""Tests run against a home of their own, never the user's: settings, sessions, models, caches.

The session's environment points HOME and the XDG folders at a temporary home as soon as
tests/conftest.py is imported (module-level defaults such as ``~/segview-sessions`` are read
at import time); each test then gets a fresh home of its own (tests/conftest.py). What segview
keeps under the user's real home is fingerprinted before and compared after the run.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

# Each variable, and where it points inside a home (HOME itself first).
HOME_VARIABLES = (("HOME", ""), ("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share"), ("XDG_CACHE_HOME", ".cache"))


def home_environment(home: Path) -> dict[str, str]:
    """HOME and the XDG folders, all inside ``home``."""
    return {name: str(home / sub) if sub else str(home) for name, sub in HOME_VARIABLES}


def user_segview_places(environ: dict[str, str] | os._Environ = os.environ) -> list[Path]:
    """Where segview keeps the user's things: studio settings, recorded sessions, compressed and distilled models."""
    home = Path(environ.get("HOME") or Path.home())
    config = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    return [config / "segview", home / "segview-sessions", home / "segview-models"]


_HASHED_BELOW = 1 << 20


def fingerprint(places: list[Path], *, skip: tuple[str, ...] = ()) -> dict[str, tuple[int, int, str]]:
    """Every file under the places (or the place itself if it is a file): mtime, size, content hash.
    ``skip``: top-level names not to look into (e.g. ``.cache``)."""
    prints: dict[str, tuple[int, int, str]] = {}
    for place in places:
        files = [place] if place.is_file() else sorted(p for p in place.rglob("*") if p.is_file()) if place.is_dir() else []
        for path in files:
            parts = path.relative_to(place).parts
            if parts and parts[0] in skip:
                continue
            stat = path.stat()
            # Content too for small files (settings); a user's recorded videos are judged by mtime and size alone.
            digest = hashlib.sha1(path.read_bytes()).hexdigest() if stat.st_size < _HASHED_BELOW else ""
            prints[str(path)] = (stat.st_mtime_ns, stat.st_size, digest)
    return prints


def describe_changes(before: dict[str, tuple[int, int, str]], after: dict[str, tuple[int, int, str]]) -> list[str]:
    """One line per file added, removed or changed."""
    lines = [f"added {p}" for p in sorted(after.keys() - before.keys())]
    lines += [f"removed {p}" for p in sorted(before.keys() - after.keys())]
    lines += [f"changed {p}" for p in sorted(before.keys() & after.keys()) if before[p] != after[p]]
    return lines
