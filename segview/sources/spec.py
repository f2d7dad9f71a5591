"""Parsing source names ("demo", "camera:0?size=1280x720", "file:clip.mp4?loop=1") into sources."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from segview.errors import SourceError
from segview.fileio import user_path
from segview.sources.base import FrameSource

SourceFactory = Callable[["SourceSpec"], FrameSource]
_FACTORIES: dict[str, SourceFactory] = {}

# The options each built-in scheme understands, and the kind of value each takes.
# Kept here, beside the grammar, so that a typo ("demo?lop=1") is refused before
# anything opens. A scheme registered elsewhere without an entry is not checked.
_FLAG, _SIZE, _RATE, _SECONDS, _BITRATE = "flag", "size", "rate", "seconds", "bitrate"
KNOWN_OPTIONS: dict[str, dict[str, str]] = {
    "demo": {"loop": _FLAG, "realtime": _FLAG},
    "file": {"loop": _FLAG, "realtime": _FLAG},
    "folder": {"loop": _FLAG, "fps": _RATE},
    "camera": {"size": _SIZE, "fps": _RATE},
    "adb": {"size": _SIZE, "bitrate": _BITRATE, "bit_rate": _BITRATE, "stall": _SECONDS, "wait": _SECONDS, "giveup": _SECONDS},
}
_TRUE, _FALSE = ("1", "true", "yes", "on", ""), ("0", "false", "no", "off")
_SIZE_TEXT = re.compile(r"(\d{1,5})[xX](\d{1,5})")
_MAX_FPS = 1000.0
_MAX_SECONDS = 7 * 24 * 3600.0
# Schemes whose target is a path on this machine: checked before anything opens it.
_PATH_SCHEMES = ("file", "folder")


@dataclass(frozen=True, slots=True)
class SourceSpec:
    scheme: str
    target: str = ""
    options: dict[str, str] = field(default_factory=dict)

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.options.get(key)
        if value is None:
            return default
        return value.lower() in _TRUE

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
    """The spec a name stands for; raises SourceError for unknown sources, options or values."""
    spec = _parse_name(text)
    check_options(spec)
    if spec.scheme in _PATH_SCHEMES:
        user_path(spec.target, f"{spec.scheme} source", SourceError)
    return spec


def _parse_name(text: str) -> SourceSpec:
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
    path = user_path(body, "source", SourceError)
    if path.is_dir():
        return SourceSpec("folder", str(path), options)
    if path.exists() or path.suffix:
        return SourceSpec("file", str(path), options)
    known = ", ".join(f"{s}:" for s in sorted(_FACTORIES))
    raise SourceError(f"unknown source {text!r}: not a file or folder, and not one of {known}{_did_you_mean(body, query)}")


def _did_you_mean(body: str, query: str) -> str:
    """ "; did you mean camera:0?" for "camra:0" (difflib), or nothing."""
    scheme, sep, target = body.partition(":")
    match = difflib.get_close_matches(scheme.lower(), sorted(_FACTORIES), n=1, cutoff=0.6)
    if not match:
        return ""
    return f"; did you mean {_printable(match[0] + sep + target + ('?' + query if query else ''))}?"


def _printable(text: str) -> str:
    """The text as typed, or escaped (a newline as \\n) where it holds what would break a one-line message."""
    return text if text.isprintable() else repr(text)[1:-1]


def check_options(spec: SourceSpec) -> None:
    """Refuse options the scheme does not know and values it could not use, naming what it accepts."""
    known = KNOWN_OPTIONS.get(spec.scheme)
    if known is None:
        return
    for key, value in spec.options.items():
        kind = known.get(key)
        if kind is None:
            hint = difflib.get_close_matches(key, known, n=1)
            guess = f"did you mean {hint[0]}? " if hint else ""
            raise SourceError(f"unknown option {key!r} for {spec.scheme}; {guess}known: {', '.join(known)}")
        problem = _value_problem(kind, value)
        if problem:
            raise SourceError(f"{spec.scheme} option {key}={_printable(value)}: {problem}")


def _value_problem(kind: str, value: str) -> str | None:
    if kind == _FLAG:
        return None if value.lower() in _TRUE + _FALSE else "give 1 or 0 (yes/no, on/off, true/false)"
    if kind == _SIZE:
        match = _SIZE_TEXT.fullmatch(value)
        if match is None or not all(1 <= int(n) <= 16384 for n in match.groups()):
            return "size must look like 1280x720 (each side 1 to 16384)"
        return None
    if kind == _BITRATE:
        from segview.sources.adb_phone import parse_bit_rate  # the phone's own rule

        try:
            parse_bit_rate(value)
        except SourceError as exc:
            return str(exc)
        return None
    upper = _MAX_FPS if kind == _RATE else _MAX_SECONDS
    try:
        number = float(value)
    except ValueError:
        return "not a number"
    if not math.isfinite(number) or not 0 < number <= upper:
        return f"must be a number above 0 and at most {upper:g}"
    return None


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
