"""The model registry: every segmentation model segview knows about, by name.

Models come from the bundled ``models/`` folder, from ``$SEGVIEW_MODEL_PATH``
(folders separated by the OS path separator), from the folder compression and
distillation results go to by default (:func:`default_output_dir`), and from
files or folders the user names. Every command and the studio search the same
folders, so a result is found by name wherever it was made. A model reference
is a registry name or a path.

Names stay short: the first file to claim a card name keeps it (the bundled
models come first), a later file with the same name becomes ``name (2)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from segview.errors import ModelError
from segview.fileio import user_path
from segview.inference.card import ModelCard
from segview.inference.inspect import describe_model

BUNDLED_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
DEFAULT_MODEL = "selfie-general"
MODEL_PATH_ENV = "SEGVIEW_MODEL_PATH"
USER_MODELS_DIR = Path("~/segview-models")


@dataclass(frozen=True, slots=True)
class ModelEntry:
    name: str
    path: Path
    card: ModelCard
    size_bytes: int

    @property
    def tooltip(self) -> str:
        """What a picker shows on hover: the short name and where the file is."""
        return f"{self.name}\n{self.path}"


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
        try:
            path = path.expanduser().resolve()
        except (OSError, RuntimeError, ValueError):  # a symlink loop, a name too long, a NUL byte: describe_model names it
            path = path.expanduser()
        card = describe_model(path)
        entry = ModelEntry(name=card.name, path=path, card=card, size_bytes=path.stat().st_size)
        known = self.entry_for_path(path)
        if known is not None:
            # The same file again (a result written anew): fresh card and size, same name and place in the list.
            entry = replace(entry, name=known.name, card=card if card.name == known.name else card.with_name(known.name))
            self._entries[known.name] = entry
            return entry
        if entry.name in self._entries:
            # Two files claim the same name: keep both, the later one as "name (2)" (its path is in the tooltip).
            unique = next(f"{card.name} ({n})" for n in range(2, 10_000) if f"{card.name} ({n})" not in self._entries)
            entry = replace(entry, name=unique, card=card.with_name(unique))
        self._entries[entry.name] = entry
        return entry

    def entry_for_path(self, path: Path) -> ModelEntry | None:
        """The entry registered for this file, if any."""
        path = path.expanduser().resolve()
        return next((e for e in self._entries.values() if e.path == path), None)

    def name_is_free(self, name: str, path: Path) -> bool:
        """Whether a file at ``path`` may take ``name``: nobody has it, or that very file does."""
        existing = self._entries.get(name)
        return existing is None or existing.path == path.expanduser().resolve()

    def resolve(self, reference: str) -> ModelEntry:
        """A registry name, or a path to an ONNX file."""
        if reference in self._entries:
            return self._entries[reference]
        path = user_path(reference, "model", ModelError)  # a NUL byte or a name too long: one clear line
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


def default_output_dir() -> Path:
    """Where compression and distillation results go by default: the first $SEGVIEW_MODEL_PATH folder, else ~/segview-models."""
    first = next((p for p in os.environ.get(MODEL_PATH_ENV, "").split(os.pathsep) if p), None)
    return Path(first).expanduser() if first else USER_MODELS_DIR.expanduser()


def default_search_dirs() -> list[Path]:
    """The bundled models, $SEGVIEW_MODEL_PATH's folders, then the default output folder (each once)."""
    extra = os.environ.get(MODEL_PATH_ENV, "")
    dirs = [BUNDLED_MODELS_DIR, *(Path(p).expanduser() for p in extra.split(os.pathsep) if p), default_output_dir()]
    unique: list[Path] = []
    for folder in dirs:
        if folder not in unique:
            unique.append(folder)
    return unique
