"""Parsing source names ("demo", "camera:0?size=1280x720", "file:clip.mp4?loop=1") into sources."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

from segview.errors import SourceError
from segview.sources.base import FrameSource

SourceFactory = Callable[["SourceSpec"], FrameSource]
_FACTORIES: dict[str, SourceFactory] = {}


@dataclass(frozen=True, slots=True)
class SourceSpec:
    scheme: str
    target: str = ""
    options: dict[str, str] = field(default_factory=dict)

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.options.get(key)
        if value is None:
            return default
        return value.lower() in ("1", "true", "yes", "on", "")

    def size(self) -> tuple[int, int] | None:
        value = self.options.get("size")
        if not value:
            return None
        try:
            w, h = value.lower().split("x")
            return int(w), int(h)
        except ValueError:
            raise SourceError(f"size must look like 1280x720, not {value!r}") from None

    def number(self, key: str) -> float | None:
        value = self.options.get(key)
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            raise SourceError(f"{key} must be a number, not {value!r}") from None

    def __str__(self) -> str:
        text = self.scheme + (f":{self.target}" if self.target else "")
        if self.options:
            text += "?" + "&".join(f"{k}={v}" for k, v in self.options.items())
        return text


def register_scheme(scheme: str, factory: SourceFactory) -> None:
    _FACTORIES[scheme] = factory


def schemes() -> list[str]:
    _load_builtin_schemes()
    return sorted(_FACTORIES)


def parse_source(text: str) -> SourceSpec:
    _load_builtin_schemes()
    text = text.strip()
    if not text:
        raise SourceError("empty source name; try 'demo', 'camera:0', 'adb' (a phone), a video file or an image folder")
    body, _, query = text.partition("?")
    options = dict(parse_qsl(query, keep_blank_values=True)) if query else {}
    scheme, sep, target = body.partition(":")
    # "C:\\clip.mp4" on Windows, or any bare path: decide by what is on disk.
    if sep and scheme in _FACTORIES and not (len(scheme) == 1 and target.startswith(("\\", "/"))):
        return SourceSpec(scheme, target, options)
    if body in _FACTORIES:
        return SourceSpec(body, "", options)
    path = Path(body).expanduser()
    if path.is_dir():
        return SourceSpec("folder", str(path), options)
    if path.exists() or path.suffix:
        return SourceSpec("file", str(path), options)
    known = ", ".join(f"{s}:" for s in sorted(_FACTORIES))
    raise SourceError(f"unknown source {text!r}: not a file or folder, and not one of {known}")


def open_source(text_or_spec: str | SourceSpec, **overrides: str) -> FrameSource:
    """Build and open the source; raises SourceError if it cannot deliver a frame."""
    spec = parse_source(text_or_spec) if isinstance(text_or_spec, str) else text_or_spec
    if overrides:
        spec = SourceSpec(spec.scheme, spec.target, {**spec.options, **overrides})
    source = _FACTORIES[spec.scheme](spec)
    source.open()
    return source


_loaded = False


def _load_builtin_schemes() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    from segview.sources import adb_phone, camera, demo, image_folder, video_file  # noqa: F401 - registration
