"""Arguments shared by the commands that run models."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from segview.cli.numbers import MAX_THREADS, whole
from segview.errors import ModelError, SegviewError
from segview.fileio import user_path
from segview.inference.registry import DEFAULT_MODEL, ModelRegistry


def add_runtime_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--provider", default="cpu", help="onnxruntime execution provider: cpu (default), cuda, ... (see 'segview models')")
    p.add_argument("--threads", type=whole(1, MAX_THREADS), default=None, help="threads inside one model run (default: cores / workers)")


def default_model_list(models: list[str] | None) -> list[str]:
    return models or [DEFAULT_MODEL]


def refuse_twin_models(registry: ModelRegistry, references: Sequence[str]) -> None:
    """Refuse one model named twice (twice by name, or by a name and its path): its rows would merge
    into one with twice the frames and twice the FPS. Files are compared as the OS sees them
    (symlinks and hard links included); a reference that names nothing is left to ``resolve``."""
    seen: dict[object, str] = {}
    for reference in references:
        path = _path_of(registry, reference)
        if path is None:
            continue
        key = _file_identity(path)
        if key in seen:
            entry = registry.entry_for_path(path)
            name = entry.name if entry is not None else path.stem
            first = seen[key]
            also = "" if first == reference else f" (as {first!r} and {reference!r})"
            raise SegviewError(f"{name} is given twice{also}; name each model once")
        seen[key] = reference


def _path_of(registry: ModelRegistry, reference: str) -> Path | None:
    if reference in registry.names():
        return registry.resolve(reference).path
    path = user_path(reference, "model", ModelError)
    return path if path.is_file() else None


def _file_identity(path: Path) -> object:
    try:
        info = path.stat()
    except OSError:
        return str(path.resolve())
    return (info.st_dev, info.st_ino)
