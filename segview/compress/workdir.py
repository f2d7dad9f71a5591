"""The hidden work folder a run builds its results in, and clearing away those killed runs left behind.

The folder lives inside the output folder (same file system, so the final renames are atomic), and its
name carries the id of the process that made it (``.segview-compress-<pid>-<random>``). A run ends by
removing its own; one killed with SIGKILL cannot, so the next run in the same folder removes each one
whose process is gone.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

WORKDIR_PREFIX = ".segview-compress-"
_OWNED = re.compile(rf"^{re.escape(WORKDIR_PREFIX)}(\d+)-")
# File systems keep coarse times: a process started within this of the folder's last change may still own it.
_CLOCK_SLACK_S = 2.0


def make_workdir(folder: Path) -> Path:
    """A new work folder in ``folder`` (which exists), named after this process."""
    return Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-", dir=folder))


def remove_stale_workdirs(folder: Path) -> list[Path]:
    """Remove the work folders in ``folder`` whose process no longer runs; returns those removed.

    Best effort: a folder that cannot be listed or removed is left as it is, since it must not stop a run.
    Folders from before the pid was in the name cannot be told apart from a running job's and are kept.
    """
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    removed = []
    for path in entries:
        owned = _OWNED.match(path.name)
        if owned is None or path.is_symlink() or not path.is_dir() or _may_be_running(int(owned.group(1)), path):
            continue
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(path)
    return removed


def _may_be_running(pid: int, path: Path) -> bool:
    """Whether the process that made ``path`` may still be at work in it."""
    if pid == os.getpid():
        return True  # this process's own (another job of the same studio, say)
    try:
        started = psutil.Process(pid).create_time()
        changed = path.stat().st_mtime
    except psutil.NoSuchProcess:
        return False
    except (psutil.Error, OSError):
        return True  # cannot tell (no permission to look): keep it
    # The pid was given to a new process after the folder's last change: the maker is gone.
    return started <= changed + _CLOCK_SLACK_S


@contextmanager
def temporary_files_in(folder: Path) -> Iterator[None]:
    """While inside, Python's temporary files (onnxruntime's ort.quant.* folders among them) go into ``folder``."""
    previous = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = previous
