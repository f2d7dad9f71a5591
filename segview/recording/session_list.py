"""The recorded sessions in a folder, one line each: when, which source, which models, how long, how fast.

Listing never fails because of one session: a folder that looks like a
session but cannot be read becomes an entry that says why, and the others
are listed as usual.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from segview.errors import SegviewError
from segview.recording.session_file import FRAMES_FILE, SETTINGS_FILE, SUMMARY_FILE, RecordedSession
from segview.recording.session_reader import load_session

_SESSION_MARKERS = (FRAMES_FILE, SETTINGS_FILE, SUMMARY_FILE)


@dataclass(frozen=True, slots=True)
class SessionEntry:
    """One session as the list shows it; ``problems`` is empty for a clean session."""

    folder: Path
    recorded_at: datetime
    source: str
    models: tuple[str, ...]
    duration_s: float | None
    fps: dict[str, float | None]
    problems: tuple[str, ...]
    readable: bool = True  # False when nothing but the problem could be read

    @property
    def name(self) -> str:
        return self.folder.name


def looks_like_session(folder: Path) -> bool:
    return folder.is_dir() and any((folder / marker).is_file() for marker in _SESSION_MARKERS)


def list_sessions(root: Path) -> list[SessionEntry]:
    """The sessions directly inside ``root``, newest first; a missing root holds none."""
    root = Path(root)
    try:
        folders = [p for p in root.iterdir() if looks_like_session(p)]
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise SegviewError(f"cannot list {root}: {exc.strerror or exc}") from None
    entries = [_cached_entry(folder) for folder in folders]
    return sorted(entries, key=lambda e: e.recorded_at, reverse=True)


# Each session read for the list, with the sizes and times of its files then: the Sessions dialog lists
# its folder at every opening, and reading every frames.csv again would hold a worker (and, through
# the GIL, the GUI thread) for as long as the first time. A session whose files changed is read again.
_entries: dict[Path, tuple[tuple, SessionEntry]] = {}


def _stamp(folder: Path) -> tuple:
    try:
        with os.scandir(folder) as files:
            return tuple(sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.is_file()))
    except OSError:
        return ()


def _cached_entry(folder: Path) -> SessionEntry:
    stamp = _stamp(folder)
    known = _entries.get(folder)
    if known is not None and stamp and known[0] == stamp:
        return known[1]
    entry = read_entry(folder)
    _entries[folder] = (stamp, entry)
    return entry


def read_entry(folder: Path) -> SessionEntry:
    try:
        session = load_session(folder)
    except SegviewError as exc:
        return SessionEntry(folder, _folder_time(folder), "", (), None, {}, (str(exc),), readable=False)
    return entry_of(session)


def entry_of(session: RecordedSession) -> SessionEntry:
    summary = session.summary
    problems = list(session.problems)
    if summary.problem:
        problems.insert(0, summary.problem)
    duration = summary.duration_s if math.isfinite(summary.duration_s) else None
    fps = {}
    for name in session.models:
        model = summary.model(name)
        fps[name] = model.fps if model is not None and math.isfinite(model.fps) else None
    return SessionEntry(
        folder=session.folder,
        recorded_at=recorded_at(session),
        source=str(session.settings.get("source") or ""),
        models=session.models,
        duration_s=duration,
        fps=fps,
        problems=tuple(problems),
    )


def recorded_at(session: RecordedSession) -> datetime:
    """When the run started (machine.json says), in local time; else when its folder was last written."""
    stamp = session.machine.get("recorded_at")
    if isinstance(stamp, str):
        try:
            # Naive and aware times cannot be sorted together: make every one aware, in local time.
            return datetime.fromisoformat(stamp).astimezone()
        except ValueError:
            pass
    return _folder_time(session.folder)


def _folder_time(folder: Path) -> datetime:
    """When the folder was last written: the best guess of a date for a session that does not say."""
    try:
        return datetime.fromtimestamp(folder.stat().st_mtime).astimezone()
    except OSError:
        return datetime.fromtimestamp(0).astimezone()
