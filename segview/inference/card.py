"""Model cards: what a segmentation model expects and what it returns.

A card is a JSON file beside the ONNX file (``model.onnx`` -> ``model.json``).
When there is none, :mod:`segview.inference.inspect` infers one from the graph.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from segview.errors import ModelError

Layout = Literal["NCHW", "NHWC"]
ColorOrder = Literal["RGB", "BGR"]
# sigmoid: one channel, already a probability. logits: one channel, raw score.
# softmax: C channels of class probabilities. class_logits: C channels of raw scores.
OutputKind = Literal["sigmoid", "logits", "softmax", "class_logits"]

LAYOUTS = ("NCHW", "NHWC")
COLOR_ORDERS = ("RGB", "BGR")
OUTPUT_KINDS = ("sigmoid", "logits", "softmax", "class_logits")


@dataclass(frozen=True, slots=True)
class Normalization:
    """value = (pixel * scale - mean[c]) / std[c], per channel in the model's colour order."""

    scale: float = 1.0 / 255.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)


@dataclass(frozen=True, slots=True)
class ModelCard:
    name: str
    input_name: str
    width: int
    height: int
    layout: Layout
    output_name: str
    output_kind: OutputKind
    classes: tuple[str, ...] = ("background", "person")
    color_order: ColorOrder = "RGB"
    normalization: Normalization = Normalization()
    title: str = ""
    task: str = "segmentation"
    source: str = ""
    license: str = ""
    # Where the card came from: "card" (a JSON file), "metadata" (ONNX metadata) or "inferred".
    origin: str = "card"
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_binary(self) -> bool:
        return self.output_kind in ("sigmoid", "logits")

    @property
    def foreground_class(self) -> int:
        """Index of the class counted as 'person' for IoU: 'person' if named, else 1."""
        lowered = [c.lower() for c in self.classes]
        return lowered.index("person") if "person" in lowered else 1

    def with_name(self, name: str) -> ModelCard:
        return replace(self, name=name)

    def to_json_dict(self) -> dict[str, Any]:
        norm = self.normalization
        data: dict[str, Any] = dict(self.extra)
        data.update(
            {
                "name": self.name,
                "title": self.title,
                "task": self.task,
                "source": self.source,
                "license": self.license,
                "input": {
                    "name": self.input_name,
                    "width": self.width,
                    "height": self.height,
                    "layout": self.layout,
                    "color_order": self.color_order,
                    "dtype": "float32",
                    "normalization": {"scale": norm.scale, "mean": list(norm.mean), "std": list(norm.std)},
                },
                "output": {"name": self.output_name, "kind": self.output_kind, "classes": list(self.classes)},
            }
        )
        return data

    @classmethod
    def from_json_dict(cls, data: Any, *, where: str = "model card") -> ModelCard:
        """Read a card by the schema below; any violation is one ModelError naming the field."""
        try:
            values = _CARD.read(data, "")
        except _Invalid as exc:
            raise ModelError(f"{where}: {exc}") from None
        inp, out, norm = values["input"], values["output"], values["input"]["normalization"]
        card = cls(
            name=values["name"],
            title=values["title"],
            task=values["task"],
            source=values["source"],
            license=values["license"],
            input_name=inp["name"],
            width=inp["width"],
            height=inp["height"],
            layout=inp["layout"],
            color_order=inp["color_order"],
            normalization=Normalization(scale=norm["scale"], mean=norm["mean"], std=norm["std"]),
            output_name=out["name"],
            output_kind=out["kind"],
            classes=out["classes"],
            origin="card",
            extra={k: v for k, v in data.items() if k not in _CARD.fields},
        )
        validate_card(card, where)
        return card


# -- the card schema ------------------------------------------------------------
# Each field says its JSON type and range; reading one either gives a clean Python
# value or raises _Invalid naming the field, so no malformed card reaches the code
# that sizes buffers or builds class lists.

# Longest side segview accepts, and the most bytes one float32 input frame may take:
# each worker holds a few such buffers, so 256 MiB keeps a 4-worker pipeline in memory.
MAX_SIDE = 16384
MAX_FRAME_BYTES = 256 * 1024 * 1024
# One score plane per class is resized to the frame: more than this would not fit.
MAX_CLASSES = 256
MAX_TEXT = 1000
MAX_CARD_BYTES = 1024 * 1024
_REQUIRED = object()


class _Invalid(Exception):
    """A field that breaks the schema; the message names the field."""


def _shown(value: Any) -> str:
    try:
        text = repr(value)
    except ValueError:  # an integer past Python's 4300-digit limit for conversion to text
        return "a number too long to show"
    return text if len(text) <= 40 else text[:37] + "..."


def _json_type(value: Any) -> str:
    names = {bool: "true/false", int: "a number", float: "a number", str: "a string", list: "a list", dict: "an object"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


@dataclass(frozen=True)
class _Text:
    default: Any = _REQUIRED
    min_length: int = 0
    # Names end up in one-line messages and table cells: no line breaks or other control characters.
    name: bool = False

    def read(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise _Invalid(f"field {path!r} must be a string, not {_json_type(value)}")
        if not self.min_length <= len(value) <= MAX_TEXT or "\x00" in value:
            raise _Invalid(f"field {path!r} must be {self.min_length} to {MAX_TEXT} characters without NUL bytes")
        if self.name and not value.isprintable():
            raise _Invalid(f"field {path!r} must be a name without line breaks or control characters, not {_shown(value)}")
        return value


@dataclass(frozen=True)
class _Choice:
    options: tuple[str, ...]
    default: Any = _REQUIRED

    def read(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or value not in self.options:
            raise _Invalid(f"field {path!r} must be one of {', '.join(self.options)}, not {_shown(value)}")
        return value


@dataclass(frozen=True)
class _Number:
    low: float
    high: float
    default: Any = _REQUIRED
    integer: bool = False
    nonzero: bool = False

    def read(self, value: Any, path: str) -> float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and self.low <= value <= self.high
        if ok and self.integer:
            ok = float(value).is_integer()
        if ok and self.nonzero:
            ok = value != 0
        if not ok:  # NaN fails the range test too
            what, low, high = ("a whole number", f"{self.low:.0f}", f"{self.high:.0f}") if self.integer else ("a number", f"{self.low:g}", f"{self.high:g}")
            extra = " other than zero" if self.nonzero else ""
            raise _Invalid(f"field {path!r} must be {what} from {low} to {high}{extra}, not {_shown(value)}")
        return int(value) if self.integer else float(value)


@dataclass(frozen=True)
class _Triple:
    """One number for all three channels, or a list of 1 or 3."""

    item: _Number
    default: Any = _REQUIRED

    def read(self, value: Any, path: str) -> tuple[float, float, float]:
        items = value if isinstance(value, list) else [value]
        if len(items) not in (1, 3):
            raise _Invalid(f"field {path!r} needs 1 or 3 values, not {len(items)}")
        numbers = tuple(self.item.read(v, path) for v in items)
        return numbers * 3 if len(numbers) == 1 else numbers  # type: ignore[return-value]


@dataclass(frozen=True)
class _TextList:
    default: Any = _REQUIRED

    def read(self, value: Any, path: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_CLASSES:
            raise _Invalid(f"field {path!r} must be a list of 1 to {MAX_CLASSES} names, not {_shown(value)}")
        return tuple(_Text(min_length=1, name=True).read(v, path) for v in value)


@dataclass(frozen=True)
class _Section:
    fields: dict[str, Any]
    default: Any = None  # a missing section reads as an empty one

    def read(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _Invalid(f"{'field ' + repr(path) if path else 'a card'} must be a JSON object, not {_json_type(value)}")
        values = {}
        for key, spec in self.fields.items():
            where = f"{path}.{key}" if path else key
            given = value.get(key)
            if given is None and spec.default is _REQUIRED:
                raise _Invalid(f"field {where!r} is missing")
            if given is None and not isinstance(spec, _Section):
                values[key] = spec.default
            else:
                values[key] = spec.read({} if given is None else given, where)
        return values


_NORMALIZATION = _Section(
    {
        "scale": _Number(-1e6, 1e6, default=1.0 / 255.0),
        "mean": _Triple(_Number(-1e6, 1e6), default=(0.0, 0.0, 0.0)),
        "std": _Triple(_Number(-1e6, 1e6, nonzero=True), default=(1.0, 1.0, 1.0)),
    }
)
_CARD = _Section(
    {
        "name": _Text(min_length=1, name=True),
        "title": _Text(default=""),
        "task": _Text(default="segmentation"),
        "source": _Text(default=""),
        "license": _Text(default=""),
        "input": _Section(
            {
                "name": _Text(min_length=1, name=True),
                # Sanity bounds only: check_input_size says why a big input is refused.
                "width": _Number(1, 10**6, integer=True),
                "height": _Number(1, 10**6, integer=True),
                "layout": _Choice(LAYOUTS, default="NCHW"),
                "color_order": _Choice(COLOR_ORDERS, default="RGB"),
                "normalization": _NORMALIZATION,
            },
            default=_REQUIRED,
        ),
        "output": _Section(
            {
                "name": _Text(min_length=1, name=True),
                "kind": _Choice(OUTPUT_KINDS),
                "classes": _TextList(default=("background", "person")),
            },
            default=_REQUIRED,
        ),
    }
)


def check_input_size(width: int, height: int, where: str) -> None:
    """Refuse an input whose float32 frame buffer would not fit in memory (several are in flight)."""
    frame_bytes = width * height * 3 * 4
    if width <= 0 or height <= 0:
        raise ModelError(f"{where}: input width and height must be positive, not {width}x{height}")
    if max(width, height) > MAX_SIDE or frame_bytes > MAX_FRAME_BYTES:
        raise ModelError(
            f"{where}: input {width}x{height} needs {frame_bytes / 2**20:.0f} MiB per frame; "
            f"segview takes inputs up to {MAX_SIDE} px a side and {MAX_FRAME_BYTES // 2**20} MiB a frame"
        )


def validate_card(card: ModelCard, where: str) -> None:
    """Rules that span fields, for cards from JSON and cards built from a graph alike."""
    if card.layout not in LAYOUTS:
        raise ModelError(f"{where}: layout must be one of {', '.join(LAYOUTS)}, not {card.layout!r}")
    if card.color_order not in COLOR_ORDERS:
        raise ModelError(f"{where}: color_order must be RGB or BGR, not {card.color_order!r}")
    if card.output_kind not in OUTPUT_KINDS:
        raise ModelError(f"{where}: output kind must be one of {', '.join(OUTPUT_KINDS)}, not {card.output_kind!r}")
    check_input_size(card.width, card.height, where)
    if any(s == 0 for s in card.normalization.std):
        raise ModelError(f"{where}: normalization std must not be zero")
    if card.is_binary and len(card.classes) != 2:
        raise ModelError(f"{where}: a {card.output_kind} output has two classes, the card lists {len(card.classes)}")
    if not 1 <= len(card.classes) <= MAX_CLASSES:
        raise ModelError(f"{where}: a model may have 1 to {MAX_CLASSES} classes, not {len(card.classes)}")


def card_path_for(model_path: Path) -> Path:
    return model_path.with_suffix(".json")


def read_regular_file(path: Path, *, what: str, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; anything else is one ModelError.

    Opened non-blocking and checked with fstat on the open file, so a FIFO never
    hangs, a device (/dev/zero) is never read, and the check sees the file that is read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise ModelError(f"{what} not found: {path}") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ModelError(f"{what} {path} is a symlink loop") from None
        raise ModelError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # a NUL byte in the path
        raise ModelError(f"cannot read {what} {path!r}: {exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise ModelError(f"{path} is a folder, not a {what}")
        if not stat.S_ISREG(mode):
            raise ModelError(f"{path} is not a regular file (a device, FIFO or socket); segview reads a {what} only from a regular file")
        data = _read_at_most(fd, max_bytes)
    except OSError as exc:
        raise ModelError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if data is None:
        raise ModelError(f"{path.name} is larger than a {what} may be ({max_bytes / 2**20:.0f} MiB)")
    return data


def _read_at_most(fd: int, max_bytes: int) -> bytes | None:
    """The file's bytes, or None once it is found to hold more than ``max_bytes``."""
    if os.fstat(fd).st_size > max_bytes:
        return None
    chunks, size = [], 0
    while chunk := os.read(fd, 1 << 24):
        size += len(chunk)
        if size > max_bytes:  # it grew while being read
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def parse_card_text(text: str, *, where: str) -> ModelCard:
    """JSON text -> card; malformed JSON (also too deep, or a number too long) is one ModelError."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise ModelError(f"{where} is nested too deeply to be a model card") from None
    except ValueError as exc:  # JSONDecodeError, and an integer with thousands of digits
        raise ModelError(f"{where} is not valid JSON: {exc}") from None
    return ModelCard.from_json_dict(data, where=where)


def read_card(path: Path) -> ModelCard:
    data = read_regular_file(path, what="model card", max_bytes=MAX_CARD_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelError(f"model card {path.name} is not UTF-8 text: {exc}") from None
    return parse_card_text(text, where=f"model card {path.name}")
