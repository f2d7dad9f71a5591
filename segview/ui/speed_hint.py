"""The Compress wizard's "on this CPU" line: before a run, whether each ticked step can make the model faster.

It is computed from a profile of the source model on this machine (its op types'
shares of the run, taken off the GUI thread by :class:`ProfileRunner`, with the
studio paused as for any measurement) and from measured facts about onnxruntime's
CPU kernels (README, "Compression"; ``benchmarks/bench_compress.py --profile``):
int8 kernels gain about 1.1x on pointwise convolutions and run about 2x slower on
depthwise ones, fp16 weights are cast back to float32 when the model loads, and
zeros or shared values in dense weights change no kernel's work.

Above it, :class:`Int8Note` says the plain sentence (``segview.compress.int8_note``)
as soon as a step that leaves int8 weights is ticked, without waiting for a profile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel

from segview.compress.int8_note import int8_note, makes_int8
from segview.profiling.ort_trace import op_family
from segview.ui.profile_runner import ProfileRequest, ProfileRunner

INT8_POINTWISE_SPEEDUP = 1.1  # measured (see the module's docstring)
INT8_DEPTHWISE_SPEEDUP = 0.5
HINT_RUNS = 20
HINT_WARMUP = 5
START_DELAY_MS = 400  # after the ticks settle, and only if the steps page is still shown
ELEMENTWISE = frozenset(
    {
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Relu",
        "Sigmoid",
        "HardSigmoid",
        "HardSwish",
        "Clip",
        "Max",
        "Min",
        "Tanh",
        "LeakyRelu",
        "PRelu",
        "Pow",
        "Sqrt",
        "Exp",
        "Neg",
        "Abs",
        "Where",
        "Erf",
        "Sum",
    }
)
LAYOUT = frozenset({"ReorderInput", "ReorderOutput", "Transpose", "Reshape", "Concat", "Cast", "Slice", "Split", "Gather"})
RESIZE = frozenset({"Resize", "Upsample"})
_DIMS = re.compile(r"\[(.*)\]$")


@dataclass(frozen=True, slots=True)
class Shares:
    """Parts of the run (0..1 of the summed node medians)."""

    conv: float
    depthwise: float  # of which depthwise (one filter per channel)
    elementwise: float
    layout: float
    resize: float

    @property
    def pointwise(self) -> float:
        return max(0.0, self.conv - self.depthwise)


def _dims(shape: str) -> list[int]:
    match = _DIMS.search(shape)
    try:
        return [int(d) for d in match.group(1).split(",")] if match and match.group(1) else []
    except ValueError:
        return []


def is_depthwise(input_shapes: tuple[str, ...]) -> bool:
    """A convolution whose weights are [C, 1, k, k] with C > 1: one filter per channel."""
    weights = _dims(input_shapes[1]) if len(input_shapes) > 1 else []
    return len(weights) == 4 and weights[0] > 1 and weights[1] == 1


def shares_of(profile) -> Shares:
    parts = {"conv": 0.0, "depthwise": 0.0, "elementwise": 0.0, "layout": 0.0, "resize": 0.0}
    for node in profile.nodes:
        family = op_family(node.op_type)
        if family in ("Conv", "ConvTranspose"):
            parts["conv"] += node.share
            parts["depthwise"] += node.share if is_depthwise(node.input_shapes) else 0.0
        elif family in ELEMENTWISE:
            parts["elementwise"] += node.share
        elif family in LAYOUT:
            parts["layout"] += node.share
        elif family in RESIZE:
            parts["resize"] += node.share
    return Shares(**parts)


def int8_bound(shares: Shares) -> float:
    """The most int8 could gain: every pointwise Conv at int8's speed-up, everything else as fast as in float."""
    return 1.0 / (1.0 - shares.pointwise + shares.pointwise / INT8_POINTWISE_SPEEDUP)


def _step_line(step: str, s: Shares) -> str:
    if step.startswith("int8"):
        return (
            f"{step}: smaller, not faster. onnxruntime's int8 kernels gain {INT8_POINTWISE_SPEEDUP:.1f}x on pointwise Conv only "
            f"({s.pointwise:.0%} of the run: at most {int8_bound(s):.2f}x overall), run {1 / INT8_DEPTHWISE_SPEEDUP:.0f}x slower on depthwise Conv "
            f"({s.depthwise:.0%}) and add quantize/dequantize work; elementwise work ({s.elementwise:.0%}) stays."
        )
    if step == "fp16":
        return "fp16: smaller, not faster (onnxruntime's CPU provider casts the weights back to float32 when it loads the model)."
    if step in ("cluster", "prune"):
        return f"{step}: a smaller zip, the same speed (the weights stay dense float32 once loaded; every kernel does the same work)."
    if step == "prune-channels":
        return f"prune-channels: can make it faster: Conv is {s.conv:.0%} of the run, and each channel removed takes its share of that work."
    if step == "rewrite":
        return f"rewrite: can make it a little faster where 1x1 Convs follow an upsampling (Resize is {s.resize:.0%} of the run)."
    return ""


def hint_text(profile, steps: list[str]) -> str:
    """The shares line, then one line per ticked step."""
    s = shares_of(profile)
    head = (
        f"On this CPU ({profile.threads} thread{'s' if profile.threads != 1 else ''}, {profile.model}): Conv {s.conv:.0%} of the run "
        f"(depthwise {s.depthwise:.0%}), elementwise {s.elementwise:.0%}, layout reorders {s.layout:.0%}, Resize {s.resize:.0%}."
    )
    lines = [line for line in (_step_line(step, s) for step in steps) if line]
    return "\n".join([head, *lines])


# A note, not a problem: dark amber on a pale background, boxed so it reads before the steps are run.
NOTE_STYLE = "color:#5c3d00; background:#fff4d6; border:1px solid #e0b64a; border-radius:3px; padding:4px"


class Int8Note(QLabel):
    """Below the steps, shown only while a ticked step leaves int8 weights: int8 makes the model smaller, not faster, here."""

    def __init__(self, steps_page) -> None:
        super().__init__("")
        self.setWordWrap(True)
        self.setObjectName("int8_note")
        self.setStyleSheet(NOTE_STYLE)
        self.page = steps_page
        steps_page.layout().addWidget(self)
        steps_page.completeChanged.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        # chosen_steps(wait=False) lists names only once the steps have arrived, so step() never blocks here.
        shown = any(makes_int8(self.page.step(name)) for name in self.page.chosen_steps(wait=False))
        self.setText(int8_note() if shown else "")
        self.setHidden(not shown)


class SpeedHintLine(QLabel):
    """Below the steps: the hint for the chosen model and ticked steps, profiled once per model file when a step is ticked."""

    def __init__(self, steps_page, engine=None, window=None) -> None:
        super().__init__("")
        self.setWordWrap(True)
        self.setObjectName("speed_hint")
        self.setStyleSheet("color:#30343b")
        self.page = steps_page
        self.profiles: dict[Path, object] = {}
        self.problems: dict[Path, str] = {}
        self.runner = ProfileRunner(engine, window)
        self.runner.finished.connect(self._on_profiled)
        self.runner.failed.connect(self._on_failed)
        self.runner.cancelled.connect(self.refresh)
        self._profiling: Path | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._start)
        steps_page.layout().addWidget(self)
        steps_page.completeChanged.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        steps = self.page.chosen_steps(wait=False)
        entry = self._entry()
        if not steps or entry is None:
            self.setText("")
        elif entry.path in self.profiles:
            self.setText(hint_text(self.profiles[entry.path], steps))
        elif entry.path in self.problems:
            self.setText(f"Whether a step can make {entry.name} faster here is not known: {self.problems[entry.path]}")
        else:
            self.setText(f"Profiling {entry.name} on this CPU (the studio pauses meanwhile) to tell which steps can make it faster…")
            self._timer.start(START_DELAY_MS)

    def _start(self) -> None:
        """Profile the chosen model if its steps are still ticked and in view (a script that pages on at once profiles nothing)."""
        entry = self._entry()
        if self.runner.running or entry is None or entry.path in self.profiles or not self.isVisible() or not self.page.chosen_steps(wait=False):
            return
        self._profiling = entry.path
        self.runner.start(ProfileRequest((entry,), threads=1, runs=HINT_RUNS, warmup=HINT_WARMUP))

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.refresh()  # back on the steps page: the hint for what is ticked now

    def _entry(self):
        name = self.page.model_combo.currentData()
        try:
            return self.page.registry.resolve(name) if name else None
        except Exception:  # noqa: BLE001 - a model that vanished: the steps page says so
            return None

    def _on_profiled(self, outcome) -> None:
        if self._profiling is not None:
            self.profiles[self._profiling] = outcome.profiles[0]
        self.refresh()

    def _on_failed(self, message: str) -> None:
        if self._profiling is not None:
            self.problems[self._profiling] = message
        self.refresh()
