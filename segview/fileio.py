"""Writing outputs atomically: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from segview.errors import SegviewError
from segview.jsonsafe import json_bytes


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise SegviewError(f"cannot write {path}: folder {folder} does not exist")
    try:
        # The temporary name is kept short: a final name near NAME_MAX must not fail on its longer temporary twin.
        fd, tmp = tempfile.mkstemp(prefix=f".{_short(path.name)}.", suffix=".tmp", dir=folder)
    except OSError as exc:  # a read-only or full folder
        raise SegviewError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:  # a full disk, or Ctrl+C mid-write: no half-written temporary file stays
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise SegviewError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise


def _short(name: str, limit: int = 64) -> str:
    """``name`` cut to at most ``limit`` bytes, on a character boundary."""
    while len(os.fsencode(name)) > limit:
        name = name[:-1]
    return name


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_bytes(path, json_bytes(data))


def move_all_into_place(moves: Sequence[tuple[Path, Path]]) -> None:
    """Move each staged file or folder onto its final path, all or nothing.

    What a move replaces is parked beside it (``NAME.previous`` in a hidden temporary folder) until
    every move is done, then deleted. If one move fails (a full disk, or a signal between two moves),
    the moves done are undone, what they replaced is put back, and the exception goes on to the
    caller, who words it. Each staged path must be on its final path's file system (os.replace).
    """
    done: list[Path] = []
    parked: list[tuple[Path, Path]] = []  # (parked, final)
    try:
        for staged, final in moves:
            if final.exists() or final.is_symlink():
                spot = Path(tempfile.mkdtemp(prefix=f".{_short(final.name)}.", suffix=".old", dir=final.parent)) / f"{final.name}.previous"
                parked.append((spot, final))
                os.replace(final, spot)
            os.replace(staged, final)
            done.append(final)
    except BaseException:
        _undo(done, parked)
        raise
    for spot, _ in parked:
        shutil.rmtree(spot.parent, ignore_errors=True)


def _undo(done: list[Path], parked: list[tuple[Path, Path]]) -> None:
    """Take the moved-in paths out again and put back what they replaced (best effort: the first error is the one to report)."""
    for final in done:
        if final.is_dir() and not final.is_symlink():
            shutil.rmtree(final, ignore_errors=True)
        else:
            final.unlink(missing_ok=True)
    for spot, final in parked:
        if spot.exists() or spot.is_symlink():
            try:
                os.replace(spot, final)
            except OSError:
                continue
        shutil.rmtree(spot.parent, ignore_errors=True)


# Linux's NAME_MAX and PATH_MAX, used where os.pathconf cannot say what the file system allows.
_NAME_MAX = 255
_PATH_MAX = 4096


def user_path(text: str, what: str, error: type[SegviewError] = SegviewError) -> Path:
    """A path typed by a user (``~`` expanded), checked before the OS sees it.

    A NUL byte, a name the file system cannot encode, a component longer than its
    NAME_MAX or a path longer than PATH_MAX would otherwise surface as ValueError,
    UnicodeEncodeError or ``OSError: [Errno 36]`` from whichever call touches it first.
    """
    if "\0" in text:
        raise error(f"{what} {_shown(text)} contains a NUL byte")
    expanded = os.path.expanduser(text)  # unlike Path.expanduser, leaves "~nobody-known" as typed
    try:
        encoded = os.fsencode(expanded)
    except UnicodeError:
        raise error(f"{what} {_shown(text)} has characters no file name can hold") from None
    path = Path(expanded)
    name_max, path_max = _limits(path)
    if len(encoded) >= path_max:
        raise error(f"{what} is {len(encoded)} bytes long; paths here are limited to {path_max - 1} bytes")
    for part in path.parts:
        size = len(os.fsencode(part))
        if size > name_max and part != path.anchor:
            raise error(f"{what}: the name {_shown(part)} is {size} bytes long; names here are limited to {name_max} bytes")
    return path


def _limits(path: Path) -> tuple[int, int]:
    """NAME_MAX and PATH_MAX of the file system holding the deepest existing folder above ``path``."""
    folder = path.anchor or "."
    for parent in reversed(path.parents):
        try:
            if not os.path.isdir(parent):
                break
        except (OSError, ValueError):
            break
        folder = str(parent)
    try:
        return os.pathconf(folder, "PC_NAME_MAX"), os.pathconf(folder, "PC_PATH_MAX")
    except (AttributeError, OSError, ValueError):  # Windows has no pathconf
        return _NAME_MAX, _PATH_MAX


def _shown(text: str, limit: int = 40) -> str:
    """The text as repr shows it, its middle cut when long: a message stays one readable line."""
    shown = repr(text)
    return shown if len(shown) <= limit else f"{shown[: limit // 2]}…{shown[-limit // 2 :]}"


def missing_folders(folder: Path) -> list[Path]:
    """The folders ``mkdir(parents=True)`` would create for ``folder``, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def remove_empty_folders(folders: list[Path]) -> None:
    """Remove folders a failed run created (deepest first), stopping at the first that is not empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (someone else wrote there) or already gone: leave it and its parents
