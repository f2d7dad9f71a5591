"""The model registry: every segmentation model segview knows about, by name.

Models come from the bundled ``models/`` folder, from ``$SEGVIEW_MODEL_PATH``
(folders separated by the OS path separator), and from files or folders the
user names. A model reference is a registry name or a path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from segview.errors import ModelError
from segview.inference.card import ModelCard
from segview.inference.inspect import describe_model

BUNDLED_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
DEFAULT_MODEL = "selfie-general"
MODEL_PATH_ENV = "SEGVIEW_MODEL_PATH"


@dataclass(frozen=True, slots=True)
class ModelEntry:
    name: str
    path: Path
    card: ModelCard
    size_bytes: int


@dataclass(frozen=True, slots=True)
class RejectedModel:
    path: Path
    reason: str


class ModelRegistry:
    """Finds and describes models; cheap to build (it parses each ONNX file once)."""

    def __init__(self, search_dirs: list[Path] | None = None) -> None:
        self._entries: dict[str, ModelEntry] = {}
        self.rejected: list[RejectedModel] = []
        dirs = search_dirs if search_dirs is not None else default_search_dirs()
        for folder in dirs:
            self.add_folder(folder, strict=False)

    def add_folder(self, folder: Path, *, strict: bool = True) -> list[ModelEntry]:
        """Register every ``*.onnx`` in the folder; unsuitable files are kept in ``rejected``."""
        if not folder.is_dir():
            if strict:
                raise ModelError(f"model folder not found: {folder}")
            return []
        added = []
        for path in sorted(folder.glob("*.onnx")):
            try:
                added.append(self.add_file(path))
            except ModelError as exc:
                self.rejected.append(RejectedModel(path, str(exc)))
        if strict and not added:
            raise ModelError(f"no usable .onnx models in {folder}")
        return added

    def add_file(self, path: Path) -> ModelEntry:
        """Describe and register one file; raises ModelError if it is unsuitable."""
        path = path.expanduser().resolve()
        card = describe_model(path)
        entry = ModelEntry(name=card.name, path=path, card=card, size_bytes=path.stat().st_size)
        existing = self._entries.get(entry.name)
        if existing is not None and existing.path != path:
            # Two files claim the same name: keep both, the later one under its file stem.
            unique = f"{card.name}@{path.parent.name}/{path.stem}"
            entry = replace(entry, name=unique, card=card.with_name(unique))
        self._entries[entry.name] = entry
        return entry

    def resolve(self, reference: str) -> ModelEntry:
        """A registry name, or a path to an ONNX file."""
        if reference in self._entries:
            return self._entries[reference]
        path = Path(reference).expanduser()
        if path.suffix.lower() == ".onnx" or path.exists() or os.sep in reference:
            if path.is_dir():
                raise ModelError(f"{reference} is a folder; name one model file in it")
            return self.add_file(path)
        known = ", ".join(self.names()) or "none"
        raise ModelError(f"unknown model {reference!r}: not a file, and not a registered model (known: {known})")

    def names(self) -> list[str]:
        return list(self._entries)

    def entries(self) -> list[ModelEntry]:
        return list(self._entries.values())


def default_search_dirs() -> list[Path]:
    dirs = [BUNDLED_MODELS_DIR]
    extra = os.environ.get(MODEL_PATH_ENV, "")
    dirs += [Path(p).expanduser() for p in extra.split(os.pathsep) if p]
    return dirs
