"""LiteRT (``ai-edge-litert``, TensorFlow Lite's runtime) as a segview engine, for ``.tflite`` models
such as MediaPipe's originals. An optional extra (``pip install 'segview[litert]'``): measured here it
does not beat onnxruntime on these models (benchmarks/README.md), so it joins sweeps, never the default.

A ``.tflite`` file's card is the JSON beside it (as for ONNX), else one built from the interpreter's
input and output details; where the registry holds the ONNX conversion of the same network (a card
whose ``source`` names this file, or ``X.onnx`` beside ``X.tflite``), that card's normalisation,
colour order and classes are taken, since a tflite file does not record them.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np

from segview.errors import ModelError
from segview.inference.card import ModelCard, card_path_for, read_card, validate_card
from segview.inference.registry import ModelEntry, ModelRegistry
from segview.inference.session import SegmentationSession, SessionOptions, first_line

TFLITE_SUFFIX = ".tflite"
INSTALL_HINT = "pip install 'segview[litert]' (or pip install ai-edge-litert)"
# The op that ends the graph says what its output already is (as inspect.output_kind_from_graph does for ONNX).
_LAST_OP_KIND = {"LOGISTIC": "sigmoid", "SOFTMAX": "softmax"}


def is_tflite(path: Path | str) -> bool:
    return Path(path).suffix.lower() == TFLITE_SUFFIX


def litert_installed() -> bool:
    return importlib.util.find_spec("ai_edge_litert") is not None


def _interpreter(path: Path, threads: int | None, *, allocate: bool = True):
    """A LiteRT interpreter, its tensors allocated unless ``allocate`` is False (then its ops are still the
    file's, not yet replaced by the XNNPACK delegate's node); ModelError (one line) when it cannot be built."""
    if not litert_installed():
        raise ModelError(f"{path.name} is a LiteRT model and ai-edge-litert is not installed: {INSTALL_HINT}")
    from ai_edge_litert.interpreter import Interpreter

    try:
        interpreter = Interpreter(model_path=os.fspath(path), num_threads=threads or -1)
        if allocate:
            interpreter.allocate_tensors()
    except Exception as exc:  # LiteRT raises ValueError and RuntimeError for files and ops it cannot take
        raise ModelError(f"LiteRT cannot load {path.name}: {first_line(exc)}") from None
    return interpreter


class LiteRtEngine:
    """LiteRT's interpreter (XNNPACK on the CPU, which also runs MediaPipe's custom transpose-conv op)."""

    name = "litert"
    model_suffix = TFLITE_SUFFIX

    def available(self) -> bool:
        return litert_installed()

    def absent_reason(self) -> str:
        return f"ai-edge-litert is not installed: {INSTALL_HINT}"

    def version(self) -> str:
        import ai_edge_litert

        return str(getattr(ai_edge_litert, "__version__", "?"))

    def make_session(self, path: Path, card: ModelCard, threads: int | None, provider: str = "cpu") -> SegmentationSession:
        if not self.available():
            raise ModelError(self.absent_reason())
        if provider.lower() not in ("cpu", "cpuexecutionprovider"):
            raise ModelError(f"the litert engine runs on the CPU; provider {provider!r} is onnxruntime's")
        if not is_tflite(path):
            raise ModelError(f"the litert engine runs .tflite models; {path.name} is not one")
        return LiteRtSession(path, card, threads)


class LiteRtSession(SegmentationSession):
    """A SegmentationSession whose ``run`` is LiteRT's; preprocessing (NHWC, per the card), postprocessing
    and the first-output check are the base class's. One interpreter per thread: an interpreter holds
    its tensors and is not safe to share, and the pipeline's workers run frames at once."""

    def __init__(self, path: Path, card: ModelCard, threads: int | None) -> None:  # noqa: D107 - no ort session to build
        self._bind(path, card, SessionOptions(provider="cpu", threads=threads))
        self._threads = threads
        first = _interpreter(path, threads)  # built now, so a file LiteRT refuses fails before any run
        self._input_index = _tensor_index(first.get_input_details(), card.input_name, "input", path)
        self._output_index = _tensor_index(first.get_output_details(), card.output_name, "output", path)
        self.provider = "LiteRT CPU"
        self._local = threading.local()
        self._local.interpreter = first

    _engine_label = " (litert)"

    def _infer(self, tensor: np.ndarray) -> np.ndarray:
        interpreter = getattr(self._local, "interpreter", None)
        if interpreter is None:
            interpreter = self._local.interpreter = _interpreter(self.path, self._threads)
        interpreter.set_tensor(self._input_index, np.ascontiguousarray(tensor, np.float32))
        interpreter.invoke()
        return interpreter.get_tensor(self._output_index)  # get_tensor copies: the next invoke reuses the buffer

    def _output_shape_message(self, actual: tuple[int, ...], problem: str) -> str:
        # The base class reads a declared shape from the ONNX file for its message; a tflite file has none to read.
        return f"{self.name}: output {self.card.output_name!r} of {self.path.name} has shape {list(actual)}: {problem}"


def _tensor_index(details: list[dict], name: str, what: str, path: Path) -> int:
    if len(details) == 1 and what == "input":
        return int(details[0]["index"])  # one input: its name in the card is only a label
    for detail in details:
        if detail["name"] == name:
            return int(detail["index"])
    names = ", ".join(repr(d["name"]) for d in details)
    raise ModelError(f"{path.name}: its card names {what} {name!r}; the model's {what}s are {names}")


def tflite_card(path: Path, twin: ModelCard | None = None) -> ModelCard:
    """The card for a ``.tflite`` file: the JSON beside it, else one from the interpreter's details
    (with the ONNX twin's normalisation, colour order, classes and licence where there is one).

    ``X.json`` may be the card of ``X.onnx`` beside it too, so a read card takes the tflite file's own
    layout and tensor names; its size must agree with the file's.
    """
    inferred = _card_from_details(path)
    card_file = card_path_for(path)
    if os.path.lexists(card_file):
        card = read_card(card_file)
        if (card.width, card.height) != (inferred.width, inferred.height):
            raise ModelError(f"{card_file.name} declares a {card.width}x{card.height} input; {path.name} takes {inferred.width}x{inferred.height}")
        return replace(card, layout="NHWC", input_name=inferred.input_name, output_name=inferred.output_name)
    if twin is None:
        return inferred
    classes = twin.classes if len(twin.classes) == len(inferred.classes) else inferred.classes
    return replace(
        inferred,
        classes=classes,
        color_order=twin.color_order,
        normalization=twin.normalization,
        title=twin.title,
        task=twin.task,
        license=twin.license,
        source=f"{path.name} (card from {twin.name})",
    )


def _card_from_details(path: Path) -> ModelCard:
    """What the file itself says: one N,H,W,3 input, its size and names, and the op that ends the graph."""
    interpreter = _interpreter(path, 1, allocate=False)
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    if len(inputs) != 1 or len(inputs[0]["shape"]) != 4 or int(inputs[0]["shape"][3]) != 3:
        shapes = ", ".join(str(list(d["shape"])) for d in inputs)
        raise ModelError(f"{path.name}: a segmentation model takes one N,H,W,3 image input; this one takes {shapes}; add a model card (JSON beside the file)")
    _, height, width, _ = (int(d) for d in inputs[0]["shape"])
    out_shape = [int(d) for d in outputs[0]["shape"]]
    channels = out_shape[3] if len(out_shape) == 4 else 1
    kind = _LAST_OP_KIND.get(_producer_op(interpreter, int(outputs[0]["index"])), "logits" if channels == 1 else "class_logits")
    if channels > 1 and kind == "sigmoid":
        kind = "softmax"  # a sigmoid per class is read as probabilities all the same
    card = ModelCard(
        name=path.stem,
        input_name=str(inputs[0]["name"]),
        width=width,
        height=height,
        layout="NHWC",
        output_name=str(outputs[0]["name"]),
        output_kind=kind,  # type: ignore[arg-type]
        classes=("background", "person") if channels == 1 else tuple(f"class {i}" for i in range(channels)),
        origin="inferred",
    )
    validate_card(card, path.name)
    return card


def _producer_op(interpreter, tensor_index: int) -> str:
    """The op that writes the output tensor ("" when it cannot be told: the kind then falls back to raw scores)."""
    try:
        ops = interpreter._get_ops_details()  # private but long-standing (tflite_runtime had it too)
    except Exception:  # an interpreter without it
        return ""
    return next((str(op["op_name"]) for op in ops if tensor_index in list(op["outputs"])), "")


def onnx_twin(path: Path, registry: ModelRegistry) -> ModelEntry | None:
    """The ONNX conversion of a ``.tflite`` network: ``X.onnx`` beside ``X.tflite``, else a registered
    model whose card's ``source`` ends with this file's name (as the bundled MediaPipe conversions' do)."""
    beside = path.with_suffix(".onnx")
    if beside.is_file():
        return registry.add_file(beside)
    for entry in registry.entries():
        if entry.card.source.replace("\\", "/").rsplit("/", 1)[-1].rsplit(" ", 1)[-1] == path.name:
            return entry
    return None


def tflite_twin(entry: ModelEntry) -> Path | None:
    """The ``.tflite`` beside an ONNX model with the same stem, if there is one."""
    beside = entry.path.with_suffix(TFLITE_SUFFIX)
    return beside if beside.is_file() else None


def tflite_entry(path: Path, registry: ModelRegistry) -> ModelEntry:
    """A registry-style entry for a ``.tflite`` file (the registry itself lists ONNX files only)."""
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    twin = onnx_twin(path, registry)
    card = tflite_card(path, twin.card if twin else None)
    return ModelEntry(name=card.name, path=path.resolve(), card=card, size_bytes=path.stat().st_size)
