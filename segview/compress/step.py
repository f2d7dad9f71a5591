"""The compression Step: one base class, one registry, typed configs.

A step takes a model and returns a new one (plus notes for its report); it
never touches the input: the runner hands each step its own copy, and steps
only read the source file. Steps register themselves once, by name, with
:func:`register_step`; everything else (runner, CLI, wizard) looks them up here.
"""

from __future__ import annotations

import abc
import dataclasses
import threading
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args, get_origin

import onnx

from segview.errors import Cancelled, CompressionError  # re-exported: the steps and tests import them from here
from segview.jsonsafe import json_safe

if typing.TYPE_CHECKING:
    from segview.compress.calibration import CalibrationSet
    from segview.inference.card import ModelCard


class CancelToken:
    """Checked by long loops between units of work; thread-safe.

    ``event`` may be a ``multiprocessing.Event`` so a parent process can cancel
    a job running in a child.
    """

    def __init__(self, event: Any | None = None) -> None:
        self._event = event if event is not None else threading.Event()

    @property
    def cancelled(self) -> bool:
        return bool(self._event.is_set())

    def cancel(self) -> None:
        self._event.set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()


def option(default: Any, help: str) -> Any:  # noqa: A002 - argparse's word for it
    """A config field with its description: the wizard's tooltip and ``segview compress --list-steps``' text."""
    return field(default=default, metadata={"help": help})


def option_help(f: dataclasses.Field) -> str:
    """The description an :func:`option` carries ("" for a plain field)."""
    return str(f.metadata.get("help", ""))


@dataclass(frozen=True, slots=True)
class StepConfig:
    """Base of every step's options. Subclasses are frozen dataclasses with defaults for every field."""

    def to_json_dict(self) -> dict[str, Any]:
        return {f.name: json_safe(getattr(self, f.name)) for f in dataclasses.fields(self)}


@dataclass(frozen=True, slots=True)
class StepOutput:
    model: onnx.ModelProto
    # What the report should say about this step (kept-in-float nodes, sparsity, clusters ...): JSON-ready.
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class StepContext:
    """What a step may use besides the model. Built by the runner, one per step."""

    card: ModelCard
    workdir: Path
    cancel: CancelToken
    calibration: CalibrationSet | None = None
    # The model the chain started from (recover's teacher); steps only read it.
    source: onnx.ModelProto | None = None
    # fraction in [0, 1] of this step, and a short message
    progress: Callable[[float, str], None] = lambda fraction, message: None
    log: Callable[[str], None] = lambda message: None

    def require_calibration(self, step: str) -> CalibrationSet:
        if self.calibration is None:
            raise CompressionError(f"step {step!r} needs calibration frames: give an image folder, a video or a live source (--calib)")
        return self.calibration


class Step(abc.ABC):
    """One compression technique. Subclasses set the class attributes and implement :meth:`apply`."""

    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    config_type: ClassVar[type[StepConfig]]
    needs_calibration: ClassVar[bool] = False
    # Declarations for checking a chain before any work (see chain_problem): the weight forms this step
    # takes, and the one it leaves (None: the form it was given).
    accepts: ClassVar[frozenset[str]] = frozenset({"float32"})
    produces: ClassVar[str | None] = None
    # Steps of which one must come earlier in the chain (recover fine-tunes what pruning or clustering cost); empty: any place.
    follows: ClassVar[frozenset[str]] = frozenset()
    # Whether its config's ``max_iou_drop`` is the job's IoU-drop target (the wizard's "Largest IoU drop" sets it).
    takes_iou_target: ClassVar[bool] = False

    def output_form(self, form: str) -> str:
        """The weights' form after this step, given the form before it."""
        return self.produces or form

    @abc.abstractmethod
    def apply(self, model: onnx.ModelProto, config: Any, ctx: StepContext) -> StepOutput:
        """Return a new model. ``model`` is the step's own copy; the caller's is never touched."""

    def check(self, model: onnx.ModelProto, config: Any) -> None:  # noqa: B027 - optional hook
        """Raise CompressionError if this step cannot handle the model (cheap: no inference)."""

    def suffix(self, config: Any) -> str:
        """Appended to the model name so the origin of a file is clear (selfie-general-int8)."""
        return self.name


_REGISTRY: dict[str, Step] = {}


def register_step(cls: type[Step]) -> type[Step]:
    """Class decorator: one instance per step name; a second step with the same name is a bug."""
    if cls.name in _REGISTRY:
        raise RuntimeError(f"compression step {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls()
    return cls


def _load_builtin_steps() -> None:
    import segview.compress.steps  # noqa: F401 - importing registers the built-in steps


def get_step(name: str) -> Step:
    _load_builtin_steps()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise CompressionError(f"unknown compression step {name!r} (known: {', '.join(step_names())})") from None


def step_names() -> list[str]:
    _load_builtin_steps()
    return list(_REGISTRY)


def all_steps() -> list[Step]:
    _load_builtin_steps()
    return list(_REGISTRY.values())


# -- which steps can follow which ----------------------------------------------

# What a model's weights are, as far as the steps care.
WEIGHT_FORMS = {"float32": "float32", "float16": "float16", "int8": "int8 (quantized)", "shared": "shared (k-means)"}


@dataclass(frozen=True, slots=True)
class ChainIssue:
    """Why a step cannot run where it stands: what it needs, what it would get, and a hint."""

    step: str
    wanted: str  # "float32 or shared (k-means)"
    where: str  # "after fp16 they are float16", "selfie-general-int8 has int8 (quantized) weights"
    hint: str = ""  # "fp16 and int8 do not combine: choose one"
    what: str = "weights"  # what ``wanted`` names: weights, or steps "before it"

    def __str__(self) -> str:
        return f"{self.step} needs {self.wanted} {self.what}; {self.where}" + (f" ({self.hint})" if self.hint else "")


def chain_issue(names: list[str], *, source_form: str = "float32", source: str = "the model") -> ChainIssue | None:
    """The first step of ``names`` that cannot run in this order, from the declarations alone (no model is read).

    ``source_form`` is the form of the model the chain starts from (see :func:`form_of_card`)."""
    form, previous = source_form, None
    for index, name in enumerate(names):
        step = get_step(name)
        if form not in step.accepts:
            wanted = " or ".join(text for f, text in WEIGHT_FORMS.items() if f in step.accepts)
            where = f"after {previous} they are {WEIGHT_FORMS[form]}" if previous else f"{source} has {WEIGHT_FORMS[form]} weights"
            return ChainIssue(name, wanted, where, _hint(form, step))
        if step.follows and not step.follows & set(names[:index]):
            where = "it is the first step" if index == 0 else f"the steps before it ({', '.join(names[:index])}) are neither"
            return ChainIssue(name, " or ".join(sorted(step.follows)), where, "it wins back the accuracy they cost", what="before it")
        form, previous = step.output_form(form), name
    return None


def chain_problem(names: list[str], *, source_form: str = "float32", source: str = "the model") -> str | None:
    """:func:`chain_issue` as one sentence (the CLI's error line, the wizard's tooltips); None if the chain can run."""
    issue = chain_issue(names, source_form=source_form, source=source)
    return None if issue is None else str(issue)


def _hint(form: str, step: Step) -> str:
    if {form, step.produces} == {"float16", "int8"}:
        return "fp16 and int8 do not combine: choose one"
    if form == "int8":
        return "int8 comes last"
    return ""


def form_of_card(card: ModelCard) -> str:
    """The weight form of a model, from the compression steps its card records (float32 when it records none)."""
    recorded = (card.extra.get("compression") or {}).get("steps") or []
    form = "float32"
    for item in recorded:
        name = item.get("step") if isinstance(item, dict) else None
        if name not in step_names():
            return form  # a step this segview does not know: let the steps' own checks decide
        form = get_step(name).output_form(form)
    return form


# -- typed configs from text and JSON ------------------------------------------


def config_from_dict(step: Step, values: dict[str, Any]) -> StepConfig:
    """Build the step's config from JSON or command-line values, converting and checking each field."""
    cls = step.config_type
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        named = ", ".join(k if k.isprintable() else repr(k) for k in unknown)  # a newline in a key would break the one-line message
        raise CompressionError(f"step {step.name!r} has no option {named} (options: {', '.join(fields) or 'none'})")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, raw in values.items():
        kwargs[key] = _coerce(raw, hints[key], where=f"{step.name}.{key}")
    try:
        config = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise CompressionError(f"step {step.name!r}: {exc}") from None
    validate = getattr(config, "validate", None)
    if validate is not None:
        validate()
    return config


def parse_step_text(text: str) -> tuple[Step, StepConfig]:
    """``int8-static`` or ``int8-static:calibration=entropy,per_channel=false`` (a recipe line from the CLI)."""
    name, _, options = text.strip().partition(":")
    step = get_step(name.strip())
    values: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in _split_options(options))):
        key, sep, value = item.partition("=")
        if not sep:
            raise CompressionError(f"step option {item!r} must look like key=value (in {text!r})")
        values[key.strip().replace("-", "_")] = value.strip()
    return step, config_from_dict(step, values)


def _split_options(options: str) -> list[str]:
    """Split on commas, except inside [...] so list values can hold commas."""
    parts, depth, current = [], 0, ""
    for ch in options:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def _coerce(raw: Any, hint: Any, *, where: str) -> Any:
    origin = get_origin(hint)
    if origin is Literal:
        choices = get_args(hint)
        value = raw if not isinstance(raw, str) else raw.strip()
        if value not in choices:
            raise CompressionError(f"{where} must be one of {', '.join(map(str, choices))}, not {raw!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if raw is None or (isinstance(raw, str) and raw.lower() in ("", "none")):
            return None
        return _coerce(raw, args[0], where=where)
    if origin is tuple:
        item_type = get_args(hint)[0]
        if isinstance(raw, str):
            text = raw.strip().strip("[]")
            items = [t.strip() for t in text.replace(";", ",").replace("+", ",").split(",") if t.strip()]
        elif isinstance(raw, (list, tuple)):
            items = list(raw)
        else:
            raise CompressionError(f"{where} must be a list, not {raw!r}")
        return tuple(_coerce(i, item_type, where=where) for i in items)
    if hint is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise CompressionError(f"{where} must be true or false, not {raw!r}")
    if hint in (int, float):
        if isinstance(raw, bool):
            raise CompressionError(f"{where} must be a number, not {raw!r}")
        try:
            value = hint(raw) if hint is float or not isinstance(raw, str) else int(raw, 10)
        except (TypeError, ValueError):
            raise CompressionError(f"{where} must be {'an integer' if hint is int else 'a number'}, not {raw!r}") from None
        if hint is int and isinstance(raw, float) and raw != int(raw):
            raise CompressionError(f"{where} must be an integer, not {raw!r}")
        return value
    if hint is str:
        return str(raw)
    return raw


def describe_options(step: Step) -> list[tuple[str, str, Any, str]]:
    """(name, type text, default, description) of each option, for ``--list-steps``."""
    hints = typing.get_type_hints(step.config_type)
    rows = []
    for f in dataclasses.fields(step.config_type):
        hint = hints[f.name]
        if get_origin(hint) is Literal:
            kind = "|".join(map(str, get_args(hint)))
        elif get_origin(hint) is tuple:
            kind = "list"
        else:
            kind = getattr(hint, "__name__", str(hint))
        rows.append((f.name, kind, f.default, option_help(f)))
    return rows
